"""Background voice calls of one subscriber: at most 2 at a time (call hold / waiting), across batches."""

from __future__ import annotations

import numpy as np

from loadgen.synth import traffic
from loadgen.synth.config import SynthConfig
from loadgen.synth.population import Population


def _max_concurrent(sub: np.ndarray, seizure: np.ndarray, release: np.ndarray) -> int:
    events = np.concatenate(
        [np.stack([sub, seizure, np.ones_like(sub)], 1), np.stack([sub, release, -np.ones_like(sub)], 1)]
    )
    events = events[np.lexsort((events[:, 2], events[:, 1], events[:, 0]))]
    worst = 0
    for s in np.unique(events[:, 0]):
        worst = max(worst, int(np.cumsum(events[events[:, 0] == s, 2]).max()))
    return worst


def test_heavy_subscribers_never_hold_more_than_two_calls() -> None:
    config = SynthConfig(subscribers=200)
    pop = Population.build(config, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    slots = traffic.CallSlots(pop.size)
    rows = []
    for batch in range(5):
        release = np.sort(rng.integers(0, 3_600, 2_000)) + batch * 3_600
        cols = traffic.generate(config, pop, rng, release, 0, slots)
        calls = (cols.record_type == traffic.MOC) | (cols.record_type == traffic.MTC)
        rows.append((cols.sub[calls], cols.seizure_s[calls], cols.release_s[calls]))
    sub, seizure, release = (np.concatenate(part) for part in zip(*rows, strict=True))
    assert _max_concurrent(sub, seizure, release) <= 2
    unconstrained = traffic.generate(config, pop, np.random.default_rng(2), release, 0)
    calls = (unconstrained.record_type == traffic.MOC) | (unconstrained.record_type == traffic.MTC)
    assert (
        _max_concurrent(
            unconstrained.sub[calls], unconstrained.seizure_s[calls], unconstrained.release_s[calls]
        )
        > 2
    )
