"""SIM-box / interconnect bypass: two signatures of one fraud, judged per 3-hour window.

- Subscriber profile: one SIM with many answered national calls to many numbers, almost nothing incoming
  (calls or SMS), from very few cells.
- Device: several SIMs rotating in one device (the same IMEI), each making answered national calls. A box
  rotates SIMs to stay under per-SIM profiles, so each SIM alone may look ordinary; the shared IMEI does not.
  Its window item is keyed by the tokenised IMEI, and its alert's `subscriber_token` is that device token.
"""

from __future__ import annotations

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
from pipeline.fraud.rules import SimboxRule
from pipeline.fraud.state import WindowKey, WindowState
from pipeline.schema import CanonicalCDR, NumberKind, RecordType

DEVICE_PREFIX = "imei:"  # device subjects share the token space with MSISDNs; the prefix keeps them apart


class SimboxDetector(Detector):
    record_types = frozenset({RecordType.MOC, RecordType.SMS_MO, RecordType.MTC, RecordType.SMS_MT})

    def __init__(self, config: SimboxRule, home_prefix: str, member: Hasher, distinct_cap: int) -> None:
        self.rule_id, self.window_s, self._c = config.rule_id, config.window_s, config
        self._home_prefix, self._member = home_prefix, member
        self.set_caps: dict[str, int] = dict.fromkeys(
            ("simbox.b", "simbox.cells", "simbox.dev_sims", "simbox.dev_b"), distinct_cap
        )

    def touches(self, cdr: CanonicalCDR) -> Touches:
        kind = cdr.record_type
        start = window_start_ms(cdr.seizure_utc_ms, self.window_s)
        if kind is RecordType.MOC and cdr.a_number_kind is NumberKind.E164:
            # bypass terminates international traffic as national calls: only answered, national calls count
            if not cdr.answered or cdr.duration_s < self._c.min_call_s:
                return NO_TOUCHES
            if not cdr.b_number.startswith(self._home_prefix):
                return NO_TOUCHES
            cell = f"{cdr.cell.mcc}-{cdr.cell.mnc}-{cdr.cell.lac}-{cdr.cell.cell_id}"
            b_member = self._member(cdr.b_number)
            members = {"simbox.b": (b_member,), "simbox.cells": (self._member(cell),)}
            subscriber = Touch(cdr.a_number, start, {"simbox.out": 1}, members)
            if not cdr.imei:
                return (subscriber,)
            sims = (self._member(cdr.a_number),)
            device_members = {"simbox.dev_sims": sims, "simbox.dev_b": (b_member,)}
            return subscriber, Touch(DEVICE_PREFIX + cdr.imei, start, {"simbox.dev_calls": 1}, device_members)
        if kind is RecordType.SMS_MO and cdr.a_number_kind is NumberKind.E164:
            return (Touch(cdr.a_number, start, {"simbox.in": 1}, {}, False),)
        if kind in (RecordType.MTC, RecordType.SMS_MT) and cdr.b_number_kind is NumberKind.E164:
            # the served subscriber of a terminating record is the B party: its activity clears a suspect
            return (Touch(cdr.b_number, start, {"simbox.in": 1}, {}, False),)
        return NO_TOUCHES

    def detect(self, state: WindowState, key: WindowKey) -> Detection | None:
        if state.count("simbox.dev_calls"):
            return self._detect_device(state)
        out, incoming = state.count("simbox.out"), state.count("simbox.in")
        distinct_b, cells = len(state.members("simbox.b")), len(state.members("simbox.cells"))
        if out < self._c.min_calls or distinct_b < self._c.min_distinct_b:
            return None
        if incoming > self._c.max_incoming_ratio * out or cells > self._c.max_distinct_cells:
            return None
        evidence = {"out_calls": out, "incoming": incoming, "distinct_b": distinct_b, "distinct_cells": cells}
        return Detection(ratio(distinct_b, self._c.min_distinct_b), evidence)

    def _detect_device(self, state: WindowState) -> Detection | None:
        calls, sims = state.count("simbox.dev_calls"), len(state.members("simbox.dev_sims"))
        if calls < self._c.min_device_calls or sims < self._c.min_sims_per_device:
            return None
        evidence = {"device_calls": calls, "sims": sims, "distinct_b": len(state.members("simbox.dev_b"))}
        return Detection(ratio(sims, self._c.min_sims_per_device), evidence)

    def wants_previous_window(self, state: WindowState) -> bool:
        # a box that started late in the previous window would otherwise wait for a full window of calls;
        # only subjects already a third of the way to the threshold pay the extra read
        if not self._c.include_previous_window:
            return False
        device_calls = state.count("simbox.dev_calls")
        if device_calls:
            return device_calls * 3 >= self._c.min_device_calls
        return state.count("simbox.out") * 3 >= self._c.min_calls
