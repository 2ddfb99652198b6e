"""How records arrive on a shard, for the simulator: Poisson, or the load generator's paced PutRecords calls.

Production traffic from many independent switches is close to Poisson. The project's load generator is
not: each of its `producers` Locust users sends one PutRecords call every ~0.25 s on ONE shared schedule
(loadgen/pacing.py), so a stream receives bursts of `producers x round(rate / producers x 0.25)` records
every ~0.25 s. Against a poller that polls every 0.2 s while records come and waits the idle second after an
empty poll, bursts 0.25 s apart leave about one poll in five empty, and each empty poll costs up to a second
of iterator age. A validation run must therefore be predicted with the arrivals it really had.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from capacity.errors import CapacityError

MAX_SIMULATED_RECORDS = 3_000_000


@dataclass(frozen=True)
class Arrivals:
    """`producers=0`: Poisson. Otherwise `producers` paced senders, one call each every ~`call_interval_s`,
    all on one schedule; one tick's calls land within `jitter_s` of each other (the put latency)."""

    producers: int = 0
    call_interval_s: float = 0.25
    jitter_s: float = 0.02


POISSON = Arrivals()


def _check(profile: Sequence[tuple[float, float]]) -> None:
    for duration_s, rate_rps in profile:
        if duration_s < 0 or rate_rps < 0:
            raise CapacityError(f"profile step ({duration_s}, {rate_rps}) must be non-negative")


def _bounded(arrivals: np.ndarray) -> np.ndarray:
    if arrivals.size > MAX_SIMULATED_RECORDS:
        raise CapacityError(
            f"profile has {arrivals.size} records per shard; simulate a shorter profile "
            f"(at most {MAX_SIMULATED_RECORDS})"
        )
    return arrivals


def poisson_arrivals(profile: Sequence[tuple[float, float]], rng: np.random.Generator) -> np.ndarray:
    """Sorted arrival times for a piecewise-constant rate profile [(duration_s, rate_rps), ...]."""
    _check(profile)
    chunks: list[np.ndarray] = []
    start = 0.0
    for duration_s, rate_rps in profile:
        count = int(rng.poisson(rate_rps * duration_s))
        chunks.append(np.sort(rng.uniform(start, start + duration_s, count)))
        start += duration_s
    return _bounded(np.concatenate(chunks) if chunks else np.zeros(0))


def paced_arrivals(
    profile: Sequence[tuple[float, float]],
    arrivals: Arrivals,
    shard_fraction: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Arrivals on one shard that takes `shard_fraction` of a stream loaded by `profile` (stream rates) from
    the load generator's paced users (loadgen/pacing.py: a user's next call is due `records / share` after
    its previous one, with `records = round(share x call_interval_s)`)."""
    _check(profile)
    users = max(arrivals.producers, 1)
    ticks: list[float] = []
    sizes: list[int] = []
    start_s, next_s = 0.0, 0.0
    for duration_s, rate_rps in profile:
        end_s = start_s + duration_s
        share_rps = rate_rps / users
        if share_rps > 0:
            per_call = max(1, round(share_rps * arrivals.call_interval_s))
            next_s = max(next_s, start_s)
            while next_s < end_s:
                ticks.append(next_s)
                sizes.append(per_call * users)
                next_s += per_call / share_rps
        start_s = end_s
    on_shard = rng.binomial(np.asarray(sizes, dtype=np.int64), min(max(shard_fraction, 0.0), 1.0))
    times = np.repeat(np.asarray(ticks), on_shard)
    times = times + rng.uniform(0.0, arrivals.jitter_s, times.size)
    return _bounded(np.sort(times))


def shard_arrivals(
    profile: Sequence[tuple[float, float]],
    arrivals: Arrivals,
    shard_fraction: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Sorted arrival times on one shard taking `shard_fraction` of the stream `profile`."""
    if arrivals.producers <= 0:
        return poisson_arrivals([(d, r * shard_fraction) for d, r in profile], rng)
    return paced_arrivals(profile, arrivals, shard_fraction, rng)
