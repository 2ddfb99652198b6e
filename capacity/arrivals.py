"""How records arrive on a shard, for the simulator: Poisson, or the load generator's paced PutRecords calls.

Production traffic from many independent switches is close to Poisson. The project's load generator is
not: each of its `producers` Locust users sends one PutRecords call of `round(rate / producers x 0.25)`
records every ~0.25 s (loadgen/pacing.py), the users 1/producers of the interval apart (their phases are
spread). A validation run is predicted with the arrivals it really had.

Why the phases matter (measured, docs/capacity.md Validation): with every user on ONE schedule, the stream
got bursts every ~0.25 s, which a poller polling every 0.2 s while records come keeps missing; each empty
poll waits the idle second, which added up to a second of iterator age that depended on a few ms of timing.
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
    on phases spread over the interval; a call's records land within `jitter_s` (the put latency)."""

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
    # The same schedule for every user, shifted by its phase (loadgen/users.py spreads them evenly).
    offsets = np.arange(users) * arrivals.call_interval_s / users
    all_ticks = (np.asarray(ticks)[None, :] + offsets[:, None]).ravel()
    all_sizes = np.tile(np.asarray(sizes, dtype=np.int64) // users, users)
    on_shard = rng.binomial(all_sizes, min(max(shard_fraction, 0.0), 1.0))
    times = np.repeat(all_ticks, on_shard)
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
