"""A labelled synthetic day of CDRs: background traffic plus injected fraud scenarios, for `fraud-eval`.

Stand-in until loadgen.synth (branch `loadgen`) lands: same CanonicalCDR output, ground truth per scenario
instance. Background traffic includes the legitimate look-alikes each rule must not fire on: call-centre
agents (many calls, few cells, but incoming calls too), A2P bulk SMS from alphanumeric senders, diaspora
calls to hot-list countries, foreign businesses calling many subscribers and getting answered.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from pipeline.schema import CanonicalCDR, Cell, NumberKind, RecordType

DAY_MS = 86_400_000
DEFAULT_DAY_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SCENARIOS = ("wangiri", "irsf", "simbox", "velocity", "simultaneous", "sms_spam")
HOT_DESTINATIONS = ("+881", "+882", "+883", "+53", "+252", "+224", "+232", "+675")
WANGIRI_ORIGINS = ("+222", "+225", "+235", "+243", "+232", "+224")
LEGIT_FOREIGN = ("+1", "+33", "+49", "+91", "+234", "+86", "+34", "+39", "+48", "+40")
_TYPES = (RecordType.MOC, RecordType.MTC, RecordType.SMS_MO, RecordType.SMS_MT, RecordType.DATA)
_TYPE_CUM_WEIGHTS = (0.40, 0.70, 0.85, 0.95, 1.0)


@dataclass(frozen=True, slots=True)
class ScenarioLabel:
    scenario: str  # the rule id that should fire
    subscriber: str  # the number the rule keys on (clear text stays inside the evaluation)
    first_release_ms: int  # event time the first fraudulent CDR became available
    cdr_count: int


@dataclass(frozen=True, slots=True)
class SyntheticDay:
    cdrs: list[CanonicalCDR]  # in arrival order (release time)
    labels: tuple[ScenarioLabel, ...]
    home_region: str


def synthetic_cdr(
    msc_id: str,
    serial: int,
    record_type: RecordType,
    a_number: str,
    b_number: str,
    *,
    seizure_ms: int,
    answer_ms: int | None,
    release_ms: int,
    duration_s: int,
    cell: Cell,
    a_kind: NumberKind = NumberKind.E164,
    b_kind: NumberKind = NumberKind.E164,
    roaming: bool = False,
) -> CanonicalCDR:
    """A canonical CDR with only the fields the fraud rules read set to something meaningful."""
    return CanonicalCDR(
        cdr_id=f"{msc_id}:{serial:09d}:0",
        record_type=record_type,
        a_number_raw=a_number,
        a_number=a_number,
        a_number_kind=a_kind,
        b_number_raw=b_number,
        b_number=b_number,
        b_number_kind=b_kind,
        b_country=None,
        imsi=None,
        imei=None,
        seizure_utc_ms=seizure_ms,
        answer_utc_ms=answer_ms,
        release_utc_ms=release_ms,
        utc_offset_min=0,
        duration_s=duration_s,
        answered=answer_ms is not None,
        cause_for_term=None,
        cell=cell,
        msc_id=msc_id,
        call_reference=f"{serial:09d}",
        partial_sequence=0,
        last_partial=True,
        roaming=roaming,
        bytes_up=0,
        bytes_down=0,
        rat=None,
        schema_version=2,
        source_format="synthetic",
    )


@dataclass
class _Builder:
    rng: random.Random
    day_start_ms: int
    cdrs: list[CanonicalCDR] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    serial: int = 0

    def cdr(
        self,
        record_type: RecordType,
        a_number: str,
        b_number: str,
        seizure_ms: int,
        duration_s: int,
        *,
        answered: bool,
        cell: Cell,
        a_kind: NumberKind = NumberKind.E164,
        b_kind: NumberKind = NumberKind.E164,
        roaming: bool = False,
        ring_s: int = 0,
    ) -> CanonicalCDR:
        self.serial += 1
        answer_ms = seizure_ms + ring_s * 1000 if answered else None
        release_ms = seizure_ms + (ring_s + duration_s) * 1000 if answered else seizure_ms + duration_s * 1000
        record = synthetic_cdr(
            "EVAL01",
            self.serial,
            record_type,
            a_number,
            b_number,
            seizure_ms=seizure_ms,
            answer_ms=answer_ms,
            release_ms=release_ms,
            duration_s=duration_s,
            cell=cell,
            a_kind=a_kind,
            b_kind=b_kind,
            roaming=roaming,
        )
        self.cdrs.append(record)
        return record

    def number(self, prefix: str, digits: int) -> str:
        return prefix + str(self.rng.randrange(10 ** (digits - 1), 10**digits))

    def home(self) -> str:
        return self.number("+447", 9)

    def call(
        self,
        a: str,
        b: str,
        seizure_ms: int,
        cell: Cell,
        *,
        b_kind: NumberKind = NumberKind.E164,
        roaming: bool = False,
    ) -> CanonicalCDR:
        """A voice call with a 3GPP-style duration: talk time if answered, ring time if not."""
        rng = self.rng
        answered = rng.random() < 0.8
        duration = max(1, int(rng.expovariate(1 / 120))) if answered else rng.randint(5, 30)
        return self.cdr(
            RecordType.MOC,
            a,
            b,
            seizure_ms,
            duration,
            answered=answered,
            cell=cell,
            ring_s=rng.randint(2, 12) if answered else 0,
            b_kind=b_kind,
            roaming=roaming,
        )


def _background(
    builder: _Builder, total: int, subscribers: list[str], home_cells: list[tuple[Cell, ...]]
) -> None:
    rng, start = builder.rng, builder.day_start_ms
    weights = [rng.lognormvariate(0, 1.0) for _ in subscribers]
    chosen = rng.choices(range(len(subscribers)), weights=weights, k=total)
    for index in chosen:
        subscriber, cells = subscribers[index], home_cells[index]
        cell = cells[0] if len(cells) == 1 else rng.choice(cells)
        seizure_ms = start + rng.randrange(DAY_MS - 3_600_000)
        kind = _TYPES[_bisect(rng.random())]
        if kind is RecordType.MOC:
            draw = rng.random()
            if draw < 0.003:
                b, b_kind = builder.number(rng.choice(HOT_DESTINATIONS), 8), NumberKind.E164
            elif draw < 0.004:
                b, b_kind = builder.number("+449", 9), NumberKind.PREMIUM_RATE
            elif draw < 0.05:
                b, b_kind = builder.number(rng.choice(LEGIT_FOREIGN), 9), NumberKind.E164
            else:
                b, b_kind = rng.choice(subscribers), NumberKind.E164
            builder.call(subscriber, b, seizure_ms, cell, b_kind=b_kind, roaming=index % 50 == 0)
        elif kind is RecordType.MTC:
            a = (
                builder.number(rng.choice(LEGIT_FOREIGN), 9)
                if rng.random() < 0.03
                else rng.choice(subscribers)
            )
            answered = rng.random() < 0.75
            duration = max(1, int(rng.expovariate(1 / 120))) if answered else rng.randint(5, 30)
            builder.cdr(
                RecordType.MTC, a, subscriber, seizure_ms, duration, answered=answered, cell=cell, ring_s=3
            )
        elif kind is RecordType.SMS_MO:
            builder.cdr(
                RecordType.SMS_MO,
                subscriber,
                rng.choice(subscribers),
                seizure_ms,
                0,
                answered=True,
                cell=cell,
            )
        elif kind is RecordType.SMS_MT:
            if rng.random() < 0.3:
                sender, sender_kind = rng.choice(("BANK", "DELIVERY", "OTP")), NumberKind.ALPHANUMERIC
            else:
                sender, sender_kind = rng.choice(subscribers), NumberKind.E164
            builder.cdr(
                RecordType.SMS_MT,
                sender,
                subscriber,
                seizure_ms,
                0,
                answered=True,
                cell=cell,
                a_kind=sender_kind,
            )
        else:
            builder.cdr(
                RecordType.DATA,
                subscriber,
                "internet",
                seizure_ms,
                rng.randint(10, 3600),
                answered=True,
                cell=cell,
                b_kind=NumberKind.SHORT_CODE,
            )


def _bisect(draw: float) -> int:
    for index, bound in enumerate(_TYPE_CUM_WEIGHTS):
        if draw < bound:
            return index
    return len(_TYPE_CUM_WEIGHTS) - 1


def _lookalikes(builder: _Builder, total: int, subscribers: list[str]) -> None:
    """Legitimate traffic shaped like fraud: what keeps precision honest."""
    rng, start = builder.rng, builder.day_start_ms
    for agent in subscribers[: max(5, total // 10_000)]:  # call-centre agents: SIM-box / velocity look-alikes
        cell = rng.choice(builder.cells)
        t = start + rng.randrange(6 * 3_600_000, 12 * 3_600_000)
        shift_end = t + 8 * 3_600_000
        while t < shift_end:
            record = builder.call(agent, rng.choice(subscribers), t, cell)
            t = record.release_utc_ms + int(rng.expovariate(1 / 30_000)) + 1000
            if rng.random() < 0.3:  # customers call back: incoming traffic a SIM-box does not have
                answered = rng.random() < 0.8
                incoming = builder.cdr(
                    RecordType.MTC,
                    rng.choice(subscribers),
                    agent,
                    t,
                    rng.randint(20, 240),
                    answered=answered,
                    cell=cell,
                    ring_s=3,
                )
                t = incoming.release_utc_ms + 5000
    for sender in ("BANK", "DELIVERY", "OTP"):  # A2P bulk: many recipients, but not a subscriber's SMS
        for _ in range(max(50, total // 500)):
            seizure_ms = start + rng.randrange(DAY_MS - 3_600_000)
            builder.cdr(
                RecordType.SMS_MO,
                sender,
                rng.choice(subscribers),
                seizure_ms,
                0,
                answered=True,
                cell=rng.choice(builder.cells),
                a_kind=NumberKind.ALPHANUMERIC,
            )
    for _ in range(5):  # foreign businesses calling many subscribers, mostly answered: not Wangiri
        caller = builder.number(rng.choice(LEGIT_FOREIGN), 9)
        t = start + rng.randrange(8 * 3_600_000)
        for _ in range(max(20, total // 5000)):
            answered = rng.random() < 0.7
            duration = rng.randint(30, 300) if answered else rng.randint(10, 30)
            record = builder.cdr(
                RecordType.MTC,
                caller,
                rng.choice(subscribers),
                t,
                duration,
                answered=answered,
                cell=rng.choice(builder.cells),
                ring_s=5,
            )
            t = record.release_utc_ms + rng.randint(5_000, 120_000)


def _wangiri(b: _Builder, t0: int) -> ScenarioLabel:
    rng = b.rng
    lure = b.number(rng.choice(WANGIRI_ORIGINS), 9)
    count, span_ms = rng.randint(80, 300), rng.randint(5, 20) * 60_000
    first = None
    for offset in sorted(rng.randrange(span_ms) for _ in range(count)):
        answered = rng.random() < 0.1  # a few victims pick up within the ring: still a one-second call
        duration = rng.randint(1, 3) if answered else rng.randint(1, 4)
        record = b.cdr(
            RecordType.MTC,
            lure,
            b.home(),
            t0 + offset,
            duration,
            answered=answered,
            cell=rng.choice(b.cells),
            ring_s=1,
        )
        first = min(first or record.release_utc_ms, record.release_utc_ms)
    return ScenarioLabel("wangiri", lure, first or t0, count)


def _irsf(b: _Builder, victim: str, t0: int) -> ScenarioLabel:
    rng = b.rng
    roaming, cell, t = rng.random() < 0.5, rng.choice(b.cells), t0
    count = rng.randint(10, 40)
    first = None
    for _ in range(count):
        if rng.random() < 0.7:
            number, kind = b.number(rng.choice(HOT_DESTINATIONS), 8), NumberKind.E164
        else:
            number, kind = b.number("+449", 9), NumberKind.PREMIUM_RATE
        duration = min(3600, max(60, int(rng.lognormvariate(6.4, 0.6))))  # median ~10 min: minutes pay
        record = b.cdr(
            RecordType.MOC,
            victim,
            number,
            t,
            duration,
            answered=True,
            cell=cell,
            b_kind=kind,
            roaming=roaming,
            ring_s=5,
        )
        first = first or record.release_utc_ms
        t = record.release_utc_ms + rng.randint(10_000, 120_000)
    return ScenarioLabel("irsf", victim, first or t0, count)


def _simbox(b: _Builder, t0: int) -> ScenarioLabel:
    rng = b.rng
    sim, cells = b.home(), rng.sample(b.cells, rng.choice((1, 1, 2)))
    end, rate_per_h = t0 + rng.randint(6, 12) * 3_600_000, rng.uniform(15, 25)
    t, count, first = t0, 0, None
    while t < end:
        record = b.call(sim, b.home(), t, rng.choice(cells))
        first, count = first or record.release_utc_ms, count + 1
        t = record.release_utc_ms + max(
            5_000, int(rng.expovariate(1 / max(10_000, 3_600_000 / rate_per_h - 100_000)))
        )
    return ScenarioLabel("simbox", sim, first or t0, count)


def _velocity(b: _Builder, caller: str, t0: int) -> ScenarioLabel:
    rng = b.rng
    per_minute, minutes, cell = rng.randint(15, 40), rng.randint(3, 10), rng.choice(b.cells)
    interval_ms = 60_000 // per_minute
    count = per_minute * minutes
    holding_s = max(1, min(3, interval_ms // 1000 - 1))  # never overlapping: that is the other rule
    for index in range(count):  # an auto-dialler: back-to-back attempts, mostly unanswered
        b.cdr(
            RecordType.MOC,
            caller,
            b.home(),
            t0 + index * interval_ms,
            holding_s,
            answered=rng.random() < 0.2,
            cell=cell,
        )
    return ScenarioLabel("velocity", caller, t0 + holding_s * 1000, count)


def _simultaneous(b: _Builder, cloned: str, t0: int) -> ScenarioLabel:
    rng = b.rng
    t, count, first = t0, 0, None
    for _round in range(rng.randint(2, 3)):
        for _ in range(rng.randint(4, 7)):
            seizure_ms = t + rng.randrange(60_000)
            record = b.cdr(
                RecordType.MOC,
                cloned,
                b.home(),
                seizure_ms,
                rng.randint(300, 1800),
                answered=True,
                cell=rng.choice(b.cells),
                ring_s=4,
            )
            first = min(first or record.release_utc_ms, record.release_utc_ms)
            count += 1
        t += rng.randint(40, 90) * 60_000
    return ScenarioLabel("simultaneous", cloned, first or t0, count)


def _sms_spam(b: _Builder, sender: str, t0: int) -> ScenarioLabel:
    rng = b.rng
    count, span_ms, cell = rng.randint(200, 600), rng.randint(1, 3) * 3_600_000, rng.choice(b.cells)
    offsets = sorted(rng.randrange(span_ms) for _ in range(count))
    for offset in offsets:
        b.cdr(RecordType.SMS_MO, sender, b.home(), t0 + offset, 0, answered=True, cell=cell)
    return ScenarioLabel("sms_spam", sender, t0 + offsets[0], count)


def synthesize_day(
    total_cdrs: int,
    seed: int,
    *,
    instances_per_million: int = 30,
    day_start_ms: int = DEFAULT_DAY_START_MS,
) -> SyntheticDay:
    """About `total_cdrs` CDRs over one day, `instances_per_million` instances of each scenario (min 3)."""
    rng = random.Random(seed)
    builder = _Builder(rng, day_start_ms)
    builder.cells = [
        Cell("234", "15", rng.randrange(1, 60_000), rng.randrange(1, 2**28))
        for _ in range(max(200, total_cdrs // 200))
    ]
    subscribers = sorted({builder.home() for _ in range(max(1000, total_cdrs // 5))})
    rng.shuffle(subscribers)
    home_cells = [tuple(rng.sample(builder.cells, rng.randint(1, 3))) for _ in subscribers]
    _lookalikes(builder, total_cdrs, subscribers)
    per_scenario = max(3, round(instances_per_million * total_cdrs / 1_000_000))
    victims: Iterator[str] = iter(subscribers[len(subscribers) // 2 :])  # disjoint from the look-alike agents
    labels: list[ScenarioLabel] = []
    latest_start_ms = day_start_ms + DAY_MS - 14 * 3_600_000  # every scenario ends inside the day
    for _ in range(per_scenario):
        labels.append(_wangiri(builder, day_start_ms + rng.randrange(latest_start_ms - day_start_ms)))
        labels.append(
            _irsf(builder, next(victims), day_start_ms + rng.randrange(latest_start_ms - day_start_ms))
        )
        labels.append(_simbox(builder, day_start_ms + rng.randrange(latest_start_ms - day_start_ms)))
        labels.append(
            _velocity(builder, next(victims), day_start_ms + rng.randrange(latest_start_ms - day_start_ms))
        )
        labels.append(
            _simultaneous(
                builder, next(victims), day_start_ms + rng.randrange(latest_start_ms - day_start_ms)
            )
        )
        labels.append(
            _sms_spam(builder, next(victims), day_start_ms + rng.randrange(latest_start_ms - day_start_ms))
        )
    _background(builder, max(0, total_cdrs - len(builder.cdrs)), subscribers, home_cells)
    builder.cdrs.sort(key=lambda cdr: cdr.release_utc_ms)
    return SyntheticDay(cdrs=builder.cdrs, labels=tuple(labels), home_region="GB")
