"""A labelled synthetic day of CDRs: background traffic plus injected fraud scenarios, for `fraud-eval`.

Stand-in until loadgen.synth (branch `loadgen`) lands: same CanonicalCDR output, ground truth per scenario
instance. Background traffic includes the legitimate look-alikes each rule must not fire on: call-centre
agents (many calls, few cells, but incoming calls too), A2P bulk SMS from alphanumeric senders, diaspora
calls to hot-list countries, foreign businesses calling many subscribers and getting answered.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from cdrcap.fraud_eval.cdrs import DAY_MS, CdrBuilder
from cdrcap.fraud_eval.scenarios import (
    ScenarioLabel,
    background,
    irsf,
    lookalikes,
    simbox,
    simbox_rotating,
    simultaneous,
    sms_spam,
    velocity,
    wangiri,
)
from pipeline.schema import CanonicalCDR, Cell

__all__ = ["SCENARIOS", "ScenarioLabel", "SyntheticDay", "synthesize_day"]

DEFAULT_DAY_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SCENARIOS = ("wangiri", "irsf", "simbox", "velocity", "simultaneous", "sms_spam")


@dataclass(frozen=True, slots=True)
class SyntheticDay:
    cdrs: list[CanonicalCDR]  # in arrival order (release time)
    labels: tuple[ScenarioLabel, ...]
    home_region: str


def synthesize_day(
    total_cdrs: int,
    seed: int,
    *,
    instances_per_million: int = 30,
    day_start_ms: int = DEFAULT_DAY_START_MS,
) -> SyntheticDay:
    """About `total_cdrs` CDRs over one day, `instances_per_million` instances of each scenario (min 3)."""
    rng = random.Random(seed)
    builder = CdrBuilder(rng, day_start_ms)
    builder.cells = [
        Cell("234", "15", rng.randrange(1, 60_000), rng.randrange(1, 2**28))
        for _ in range(max(200, total_cdrs // 200))
    ]
    subscribers = sorted({builder.home() for _ in range(max(1000, total_cdrs // 5))})
    rng.shuffle(subscribers)
    home_cells = [tuple(rng.sample(builder.cells, rng.randint(1, 3))) for _ in subscribers]
    lookalikes(builder, total_cdrs, subscribers)
    per_scenario = max(3, round(instances_per_million * total_cdrs / 1_000_000))
    victims: Iterator[str] = iter(subscribers[len(subscribers) // 2 :])  # disjoint from the look-alike agents
    labels: list[ScenarioLabel] = []
    latest_start_ms = day_start_ms + DAY_MS - 14 * 3_600_000  # every scenario ends inside the day

    def start_ms() -> int:
        return day_start_ms + rng.randrange(latest_start_ms - day_start_ms)

    for instance in range(per_scenario):
        labels.append(wangiri(builder, start_ms()))
        labels.append(irsf(builder, next(victims), start_ms()))
        box = simbox if instance % 2 == 0 else simbox_rotating  # half single SIMs, half rotating boxes
        labels.append(box(builder, start_ms()))
        labels.append(velocity(builder, next(victims), start_ms()))
        labels.append(simultaneous(builder, next(victims), start_ms()))
        labels.append(sms_spam(builder, next(victims), start_ms()))
    background(builder, max(0, total_cdrs - len(builder.cdrs)), subscribers, home_cells)
    builder.cdrs.sort(key=lambda cdr: cdr.release_utc_ms)
    return SyntheticDay(cdrs=builder.cdrs, labels=tuple(labels), home_region="GB")
