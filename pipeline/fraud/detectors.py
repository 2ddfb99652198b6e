"""Five of the six rules as code (SIM-box: simbox.py): what each CDR adds to which window, and when it fires.

Each detector reads only CanonicalCDR fields and its own config; state names are prefixed by the rule id
so rules sharing a window length share one item (one write per item per batch) without colliding.
"""

from __future__ import annotations

from collections.abc import Set

from pipeline.fraud.detector_base import (
    NO_TOUCHES,
    Detection,
    Detector,
    Hasher,
    Touch,
    Touches,
    ratio,
    window_start_ms,
)
from pipeline.fraud.rules import (
    IrsfRule,
    RuleConfig,
    SimboxRule,
    SimultaneousRule,
    SmsSpamRule,
    VelocityRule,
    WangiriRule,
)
from pipeline.fraud.simbox import SimboxDetector
from pipeline.fraud.state import WindowKey, WindowState
from pipeline.schema import CanonicalCDR, NumberKind, RecordType

_VOICE = (RecordType.MOC, RecordType.MTC)
_OUTGOING_VOICE = (RecordType.MOC, RecordType.FORWARD)
MAX_WINDOWS_PER_CALL = 4  # a call spanning more windows is clipped: bounded writes per record


class WangiriDetector(Detector):
    record_types = frozenset(_VOICE)

    def __init__(self, config: WangiriRule, home_prefix: str, member: Hasher, distinct_cap: int) -> None:
        self.rule_id, self.window_s, self._c = config.rule_id, config.window_s, config
        self._home_prefix, self._member = home_prefix, member
        self.set_caps: dict[str, int] = {"wangiri.b": distinct_cap}

    def touches(self, cdr: CanonicalCDR) -> Touches:
        if cdr.record_type not in _VOICE or cdr.a_number_kind is not NumberKind.E164:
            return NO_TOUCHES
        if cdr.a_number.startswith(self._home_prefix):
            return NO_TOUCHES  # a lure comes from abroad so the call-back is billed at international rates
        if cdr.answered and cdr.duration_s > self._c.max_ring_s:
            return NO_TOUCHES
        start = window_start_ms(cdr.seizure_utc_ms, self.window_s)
        return (
            Touch(cdr.a_number, start, {"wangiri.calls": 1}, {"wangiri.b": (self._member(cdr.b_number),)}),
        )

    def detect(self, state: WindowState, key: WindowKey) -> Detection | None:
        calls, distinct_b = state.count("wangiri.calls"), len(state.members("wangiri.b"))
        if calls < self._c.min_calls or distinct_b < self._c.min_distinct_b:
            return None
        return Detection(
            ratio(distinct_b, self._c.min_distinct_b), {"calls": calls, "distinct_b": distinct_b}
        )


class IrsfDetector(Detector):
    record_types = frozenset(_OUTGOING_VOICE)

    def __init__(self, config: IrsfRule) -> None:
        self.rule_id, self.window_s, self._c = config.rule_id, config.window_s, config
        self.set_caps: dict[str, int] = {}

    def points(self, cdr: CanonicalCDR) -> int:
        """Risk points of one call: zero unless it goes to a hot-list range or a premium-rate number."""
        points = 0
        if cdr.b_number.startswith(self._c.hot_prefixes):
            points += self._c.hot_points
        if cdr.b_number_kind is NumberKind.PREMIUM_RATE:
            points += self._c.premium_points
        if not points:
            return 0
        if cdr.answered and cdr.duration_s >= self._c.long_call_s:
            points += (
                self._c.long_call_points
            )  # revenue share grows with minutes: long calls pay the fraudster
        if cdr.roaming:
            points += (
                self._c.roaming_points
            )  # stolen SIMs are used abroad, where the home HLR sees usage late
        return points

    def touches(self, cdr: CanonicalCDR) -> Touches:
        if cdr.record_type not in _OUTGOING_VOICE:
            return NO_TOUCHES
        points = self.points(cdr)
        if not points:
            return NO_TOUCHES
        return (
            Touch(
                cdr.a_number,
                window_start_ms(cdr.seizure_utc_ms, self.window_s),
                {
                    "irsf.calls": 1,
                    "irsf.points": points,
                    "irsf.seconds": cdr.duration_s,
                    "irsf.roaming_calls": int(cdr.roaming),
                },
                {},
            ),
        )

    def detect(self, state: WindowState, key: WindowKey) -> Detection | None:
        calls, points = state.count("irsf.calls"), state.count("irsf.points")
        if calls < self._c.min_calls or points < self._c.min_score:
            return None
        evidence = {"calls": calls, "points": points, "seconds": state.count("irsf.seconds")}
        evidence["roaming_calls"] = state.count("irsf.roaming_calls")
        return Detection(ratio(points, self._c.min_score), evidence)


class VelocityDetector(Detector):
    record_types = frozenset({RecordType.MOC, RecordType.SMS_MO})

    def __init__(self, config: VelocityRule) -> None:
        self.rule_id, self.window_s, self._c = config.rule_id, config.window_s, config
        self.set_caps: dict[str, int] = {}

    def touches(self, cdr: CanonicalCDR) -> Touches:
        if cdr.a_number_kind is not NumberKind.E164:
            return NO_TOUCHES
        name = "velocity.calls" if cdr.record_type is RecordType.MOC else "velocity.sms"
        return (Touch(cdr.a_number, window_start_ms(cdr.seizure_utc_ms, self.window_s), {name: 1}, {}),)

    def detect(self, state: WindowState, key: WindowKey) -> Detection | None:
        calls, sms = state.count("velocity.calls"), state.count("velocity.sms")
        if calls < self._c.min_calls and sms < self._c.min_sms:
            return None
        score = max(ratio(calls, self._c.min_calls), ratio(sms, self._c.min_sms))
        return Detection(score, {"calls": calls, "sms": sms})

    def wants_previous_window(self, state: WindowState) -> bool:
        # A 10-s flood that straddles a minute boundary leaves both minutes below the threshold (~3 % of
        # loadgen's velocity bursts); only subjects a third of the way there pay the extra read.
        if not self._c.include_previous_window:
            return False
        return (
            state.count("velocity.calls") * 3 >= self._c.min_calls
            or state.count("velocity.sms") * 3 >= self._c.min_sms
        )


def max_overlap(intervals: Set[str], start_ms: int, end_ms: int) -> int:
    """Most calls active at one instant inside [start_ms, end_ms), from "seizure:release:id" members."""
    edges: list[tuple[int, int]] = []
    for member in intervals:
        seizure_text, release_text, _ = member.split(":", 2)
        seizure, release = max(int(seizure_text), start_ms), min(int(release_text), end_ms)
        if seizure < release:
            edges.append((seizure, 1))
            edges.append((release, -1))  # sorts before a +1 at the same instant: back-to-back is no overlap
    active = peak = 0
    for _, step in sorted(edges):
        active += step
        peak = max(peak, active)
    return peak


class SimultaneousDetector(Detector):
    record_types = frozenset({RecordType.MOC})

    def __init__(self, config: SimultaneousRule, member: Hasher) -> None:
        self.rule_id, self.window_s, self._c = config.rule_id, config.window_s, config
        self._member = member
        self.set_caps: dict[str, int] = {"simultaneous.iv": config.max_intervals}

    def touches(self, cdr: CanonicalCDR) -> Touches:
        if cdr.record_type is not RecordType.MOC or cdr.a_number_kind is not NumberKind.E164:
            return NO_TOUCHES
        if cdr.release_utc_ms <= cdr.seizure_utc_ms:
            return NO_TOUCHES
        interval = f"{cdr.seizure_utc_ms}:{cdr.release_utc_ms}:{self._member(cdr.cdr_id)}"
        window_ms = self.window_s * 1000
        first = window_start_ms(cdr.seizure_utc_ms, self.window_s)
        last = min(
            window_start_ms(cdr.release_utc_ms - 1, self.window_s),
            first + (MAX_WINDOWS_PER_CALL - 1) * window_ms,
        )
        members = {"simultaneous.iv": (interval,)}
        return tuple(Touch(cdr.a_number, start, {}, members) for start in range(first, last + 1, window_ms))

    def detect(self, state: WindowState, key: WindowKey) -> Detection | None:
        intervals = state.members("simultaneous.iv")
        if len(intervals) < self._c.min_concurrent:
            return None
        peak = max_overlap(intervals, key.window_start_ms, key.window_end_ms)
        if peak < self._c.min_concurrent:
            return None
        return Detection(
            ratio(peak, self._c.min_concurrent), {"max_concurrent": peak, "calls": len(intervals)}
        )


class SmsSpamDetector(Detector):
    record_types = frozenset({RecordType.SMS_MO})

    def __init__(self, config: SmsSpamRule, member: Hasher, distinct_cap: int) -> None:
        self.rule_id, self.window_s, self._c = config.rule_id, config.window_s, config
        self._member = member
        self.set_caps: dict[str, int] = {"sms_spam.rcpt": distinct_cap}

    def touches(self, cdr: CanonicalCDR) -> Touches:
        # A2P senders (short codes, alphanumeric ids) are excluded by kind: bulk by contract, not spam
        if cdr.record_type is not RecordType.SMS_MO or cdr.a_number_kind is not NumberKind.E164:
            return NO_TOUCHES
        start = window_start_ms(cdr.seizure_utc_ms, self.window_s)
        members = {"sms_spam.rcpt": (self._member(cdr.b_number),)}
        return (Touch(cdr.a_number, start, {"sms_spam.sms": 1}, members),)

    def detect(self, state: WindowState, key: WindowKey) -> Detection | None:
        recipients = len(state.members("sms_spam.rcpt"))
        if recipients < self._c.min_distinct_recipients:
            return None
        evidence = {"sms": state.count("sms_spam.sms"), "distinct_recipients": recipients}
        return Detection(ratio(recipients, self._c.min_distinct_recipients), evidence)


def build_detectors(
    rules: tuple[RuleConfig, ...], *, home_prefix: str, member: Hasher, distinct_cap: int
) -> list[Detector]:
    detectors: list[Detector] = []
    for config in rules:
        if not config.enabled:
            continue
        if isinstance(config, WangiriRule):
            detectors.append(WangiriDetector(config, home_prefix, member, distinct_cap))
        elif isinstance(config, IrsfRule):
            detectors.append(IrsfDetector(config))
        elif isinstance(config, SimboxRule):
            detectors.append(SimboxDetector(config, home_prefix, member, distinct_cap))
        elif isinstance(config, VelocityRule):
            detectors.append(VelocityDetector(config))
        elif isinstance(config, SimultaneousRule):
            detectors.append(SimultaneousDetector(config, member))
        else:
            detectors.append(SmsSpamDetector(config, member, distinct_cap))
    return detectors
