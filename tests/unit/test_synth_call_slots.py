"""Background voice calls of one subscriber: at most 2 at a time (call hold / waiting), across batches;
fraud episodes keep their own shapes (loadgen/synth/traffic.py, CallSlots)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import numpy as np
import pytest

from cdrcap.fraud_loadgen_eval import canonical_day
from loadgen.errors import LoadConfigError
from loadgen.synth import CdrSynthesizer, DefectRates, FraudRates, SynthConfig, traffic
from loadgen.synth.fraud import EPISODE_RECORDS
from loadgen.synth.population import Population
from pipeline.schema import CanonicalCDR, RecordType

DAY_START_S = 1_767_225_600
NO_DEFECTS = DefectRates(**dict.fromkeys(DefectRates().as_dict(), 0.0))
CALLS = (RecordType.MOC, RecordType.MTC)


def max_concurrent(sub: np.ndarray, seizure: np.ndarray, release: np.ndarray) -> int:
    """The most calls one subscriber holds at once (a call ending as another begins does not overlap)."""
    if len(sub) == 0:
        return 0
    who = np.concatenate([sub, sub])
    at = np.concatenate([seizure, release])
    step = np.concatenate([np.ones(len(sub), np.int64), -np.ones(len(sub), np.int64)])
    order = np.lexsort((step, at, who))
    # Each subscriber's steps sum to 0, so the running sum restarts at 0 for the next subscriber.
    return int(np.cumsum(step[order]).max())


def _day_calls(
    config: SynthConfig, cdrs: int, slots: traffic.CallSlots | None, seed: int = 2
) -> tuple[np.ndarray, ...]:
    """A diurnal day of background traffic in 1,000-record slices (as CdrSynthesizer.day_slices): the voice
    calls' (subscriber, seizure, release)."""
    pop = Population.build(config, np.random.default_rng(1))
    rng = np.random.default_rng(seed)
    release = traffic.diurnal_release_times(config, rng, cdrs, DAY_START_S, 0)
    parts = []
    for start in range(0, cdrs, 1_000):
        cols = traffic.generate(config, pop, rng, release[start : start + 1_000], 0, slots)
        calls = (cols.record_type == traffic.MOC) | (cols.record_type == traffic.MTC)
        parts.append((cols.sub[calls], cols.seizure_s[calls], cols.release_s[calls]))
    return tuple(np.concatenate(part) for part in zip(*parts, strict=True))


@pytest.mark.parametrize("lines", [2, 1])
def test_no_background_subscriber_holds_more_calls_than_its_lines_in_a_dense_day(lines: int) -> None:
    # Given 2,000 subscribers making 60,000 CDRs in a day (the heaviest ~450 a day)
    config = SynthConfig(subscribers=2_000, call_lines=lines)
    slots = traffic.CallSlots(config.subscribers, lines)

    capped = _day_calls(config, 60_000, slots)
    free = _day_calls(config, 60_000, None)

    # Then with call slots nobody holds more calls than the lines, and every call found a free line
    assert max_concurrent(*capped) <= lines
    assert slots.over_cap == 0
    # (without them the independent draws give the heavy subscribers 3+ at once: the check can fail)
    assert max_concurrent(*free) > 2


def test_call_lines_must_not_be_negative() -> None:
    with pytest.raises(LoadConfigError, match="call_lines"):
        SynthConfig(call_lines=-1)


def test_a_third_overlapping_call_goes_to_another_subscriber_and_slots_carry_across_batches() -> None:
    pop = Population.build(SynthConfig(subscribers=1_000), np.random.default_rng(1))
    slots = traffic.CallSlots(pop.size)
    rng = np.random.default_rng(3)
    sub = np.zeros(3, dtype=np.int64)

    first = slots.place(pop, rng, sub, np.array([0, 10, 20]), np.array([100, 100, 100]))
    # (a later batch: subscriber 0 still holds two calls until 100)
    later = slots.place(pop, rng, sub[:1], np.array([50]), np.array([60]))
    after = slots.place(pop, rng, sub[:1], np.array([100]), np.array([160]))

    assert first[:2].tolist() == [0, 0]
    assert first[2] != 0
    assert later[0] != 0
    assert after[0] == 0  # the line is free again when the calls end
    assert slots.over_cap == 0


def test_a_population_that_cannot_carry_the_load_still_terminates_and_counts_the_excess() -> None:
    # Given 100 subscribers (200 lines) and 1,000 calls all open at the same second
    pop = Population.build(SynthConfig(subscribers=100), np.random.default_rng(1))
    slots = traffic.CallSlots(pop.size)
    n = 1_000

    sub = slots.place(pop, np.random.default_rng(4), np.zeros(n, np.int64), np.zeros(n), np.full(n, 600))

    assert len(sub) == n
    assert slots.over_cap == n - 2 * pop.size
    assert slots.busy.min() == 600


def test_the_same_seed_gives_the_same_day_with_call_slots() -> None:
    config = SynthConfig(subscribers=200, defects=NO_DEFECTS)  # the heaviest make ~300 calls

    first = CdrSynthesizer(config, seed=5).day(5_000, DAY_START_S)
    second = CdrSynthesizer(config, seed=5).day(5_000, DAY_START_S)
    other = CdrSynthesizer(config, seed=6).day(5_000, DAY_START_S)

    assert first.payloads == second.payloads
    assert first.labels == second.labels
    assert first.payloads != other.payloads
    # (call_lines=0: no cap, every call keeps its first subscriber: a different day where calls collide)
    uncapped = CdrSynthesizer(dataclasses.replace(config, call_lines=0), seed=5).day(5_000, DAY_START_S)
    assert uncapped.payloads != first.payloads


def test_fraud_episodes_keep_their_concurrent_calls_and_the_background_stays_capped() -> None:
    # Given a dense day of cloned SIMs (5 lines) and IRSF (3 lines) among 5,000 busy subscribers
    fraud = dataclasses.replace(FraudRates.none(), simultaneous=0.02, irsf=0.01)
    config = SynthConfig(subscribers=5_000, fraud=fraud, defects=NO_DEFECTS)
    day = canonical_day(15_000, seed=3, config=config)
    by_id = {cdr.cdr_id: cdr for cdr in day.cdrs}
    episodes: dict[tuple[str, str], list[str]] = defaultdict(list)
    for label in day.labels:
        episodes[(label.scenario, label.episode)].append(label.cdr_id)

    # Then every whole episode still holds as many calls at once as it has lines
    peaks: dict[str, list[int]] = defaultdict(list)
    for (scenario, _), ids in episodes.items():
        if len(ids) == EPISODE_RECORDS[scenario]:
            calls = [by_id[i] for i in ids if i in by_id and by_id[i].record_type in CALLS]
            peaks[scenario].append(_peak(calls))
    assert len(peaks["simultaneous"]) >= 10
    assert min(peaks["simultaneous"]) == 5
    assert len(peaks["irsf"]) >= 5
    assert min(peaks["irsf"]) == 3
    # And the unlabelled traffic (the background) holds at most 2 calls per subscriber
    fraud_ids = {label.cdr_id for label in day.labels}
    background = [c for c in day.cdrs if c.cdr_id not in fraud_ids and c.record_type in CALLS]
    imsi = np.array([int(c.imsi or 0) for c in background])
    assert max_concurrent(imsi, *_times(background)) <= 2


def _times(calls: list[CanonicalCDR]) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array([c.seizure_utc_ms for c in calls], np.int64),
        np.array([c.release_utc_ms for c in calls], np.int64),
    )


def _peak(calls: list[CanonicalCDR]) -> int:
    return max_concurrent(np.zeros(len(calls), np.int64), *_times(calls))
