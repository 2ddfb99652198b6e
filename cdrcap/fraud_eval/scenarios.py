"""Traffic of the synthetic evaluation day: background, legitimate look-alikes, and six fraud scenarios.

Each scenario function injects one instance and returns its ground-truth label.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdrcap.fraud_eval.cdrs import DAY_MS, CdrBuilder
from pipeline.schema import Cell, NumberKind, RecordType

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
    also: tuple[str, ...] = ()  # other subjects of the same instance (the SIMs of a multi-SIM box)


def background(
    builder: CdrBuilder, total: int, subscribers: list[str], home_cells: list[tuple[Cell, ...]]
) -> None:
    rng, start = builder.rng, builder.day_start_ms
    weights = [rng.lognormvariate(0, 1.0) for _ in subscribers]
    chosen = rng.choices(range(len(subscribers)), weights=weights, k=total)
    for index in chosen:
        subscriber, cells = subscribers[index], home_cells[index]
        imei = f"35{index - (index % 50 == 1):013d}"  # one handset each; 1 in 50 shares it with a neighbour
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
            builder.call(subscriber, b, seizure_ms, cell, b_kind=b_kind, roaming=index % 50 == 0, imei=imei)
        elif kind is RecordType.MTC:
            a = (
                builder.number(rng.choice(LEGIT_FOREIGN), 9)
                if rng.random() < 0.03
                else rng.choice(subscribers)
            )
            answered = rng.random() < 0.75
            duration = max(1, int(rng.expovariate(1 / 120))) if answered else rng.randint(5, 30)
            builder.cdr(
                RecordType.MTC,
                a,
                subscriber,
                seizure_ms,
                duration,
                answered=answered,
                cell=cell,
                imei=imei,
                ring_s=3,
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
                imei=imei,
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
                imei=imei,
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
                imei=imei,
                b_kind=NumberKind.SHORT_CODE,
            )


def _bisect(draw: float) -> int:
    for index, bound in enumerate(_TYPE_CUM_WEIGHTS):
        if draw < bound:
            return index
    return len(_TYPE_CUM_WEIGHTS) - 1


def lookalikes(builder: CdrBuilder, total: int, subscribers: list[str]) -> None:
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


def wangiri(b: CdrBuilder, t0: int) -> ScenarioLabel:
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


def irsf(b: CdrBuilder, victim: str, t0: int) -> ScenarioLabel:
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


def simbox(b: CdrBuilder, t0: int) -> ScenarioLabel:
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


def simbox_rotating(b: CdrBuilder, t0: int) -> ScenarioLabel:
    """A box of 4-8 SIMs sharing one IMEI and one cell, each SIM below the per-subscriber profile."""
    rng = b.rng
    imei, cell = b.number("35", 13)[1:], rng.choice(b.cells)
    sims = [b.home() for _ in range(rng.randint(4, 8))]
    end, per_sim_gap_ms = t0 + rng.randint(6, 12) * 3_600_000, rng.randint(8, 15) * 60_000
    count, first = 0, None
    for sim in sims:
        t = t0 + rng.randrange(per_sim_gap_ms)
        while t < end:
            record = b.call(sim, b.home(), t, cell, imei=imei)
            first, count = min(first or record.release_utc_ms, record.release_utc_ms), count + 1
            t = record.release_utc_ms + int(rng.expovariate(1 / per_sim_gap_ms))
    return ScenarioLabel("simbox", "imei:" + imei, first or t0, count, tuple(sims))


def velocity(b: CdrBuilder, caller: str, t0: int) -> ScenarioLabel:
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


def simultaneous(b: CdrBuilder, cloned: str, t0: int) -> ScenarioLabel:
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


def sms_spam(b: CdrBuilder, sender: str, t0: int) -> ScenarioLabel:
    rng = b.rng
    count, span_ms, cell = rng.randint(200, 600), rng.randint(1, 3) * 3_600_000, rng.choice(b.cells)
    offsets = sorted(rng.randrange(span_ms) for _ in range(count))
    for offset in offsets:
        b.cdr(RecordType.SMS_MO, sender, b.home(), t0 + offset, 0, answered=True, cell=cell)
    return ScenarioLabel("sms_spam", sender, t0 + offsets[0], count)
