"""The day, minute by minute: the planner's analytic lane model (capacity/model.py) driven by each minute's
rate, with the backlog carried from one minute to the next, for any shard count and PF over time.

Per minute: the producers offer the minute's records plus what was throttled before (they retry); the
stream accepts up to its write capacity (shards x the shard limits, the hottest shard binding under key
skew; or on-demand's capacity); the hottest lane receives its share and serves at most its capacity
(`steady_state(...).capacity_rps`, full batches back to back), the rest waits as backlog. The steady state
at the minute's lane rate gives the e2e p99 and iterator age of a caught-up lane; a backlog adds its drain
time. A minute is over the SLO when the iterator age or the e2e p99 exceeds it, or when more than 1 % of
the minute's records were throttled (their retry puts them beyond the p99).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from capacity import quotas
from capacity.model import LaneSteadyState, ReadPath, steady_state
from capacity.search import Slo
from capacity.skew import KeyDistribution

MINUTE_S = 60.0
THROTTLED_SHARE_OVER_SLO = 0.01  # above this share a minute's p99 record is a throttled (retried) one
RATE_KEY_DIGITS = 3  # steady states are cached per lane rate rounded to 3 significant digits
UNSTABLE_LANE_FRACTION = 0.95  # a saturated lane is read at this share of its capacity, plus its backlog


@dataclass(frozen=True)
class LaneSetup:
    """The recommendation's consumer configuration, the same in every minute and every policy."""

    batch_size: int
    batching_window_s: float
    service_ms: tuple[float, float, float]  # S(n) = a + b n + c KiB, at the chosen memory and architecture
    record_bytes: float
    read: ReadPath
    keys: KeyDistribution
    slo: Slo


@dataclass
class Flow:
    """What one minute leaves to the next: records the producers still retry, the hottest lane's backlog."""

    producer_pending: float = 0.0
    lane_backlog: float = 0.0


@dataclass(frozen=True)
class Minute:
    accepted: float
    throttled: float  # this minute's new records refused at least once
    iterator_age_ms: float
    e2e_p99_ms: float
    invocations: float
    gb_seconds_ms: float  # invocations x billed ms, per MB (priced with the memory later)
    over_slo: bool


@dataclass
class LaneModel:
    """Cached steady states of the lane configuration (one per rounded lane rate) and skew shares."""

    setup: LaneSetup
    _steady: dict[float, LaneSteadyState] = field(default_factory=dict)
    _lane_share: dict[tuple[int, int], float] = field(default_factory=dict)
    _shard_share: dict[int, float] = field(default_factory=dict)

    def steady(self, lane_rate_rps: float) -> LaneSteadyState:
        key = float(f"{max(lane_rate_rps, 1e-6):.{RATE_KEY_DIGITS}g}")
        state = self._steady.get(key)
        if state is None:
            s = self.setup
            state = steady_state(key, s.record_bytes, s.batch_size, s.batching_window_s, s.service_ms, s.read)
            self._steady[key] = state
        return state

    @property
    def capacity_rps(self) -> float:
        """Records/s one lane serves with full batches back to back (independent of the rate)."""
        return float(self.steady(1.0).capacity_rps)

    def hot_lane_share(self, shards: int, pf: int) -> float:
        if (shards, pf) not in self._lane_share:
            self._lane_share[shards, pf] = self.setup.keys.max_lane_share(shards, pf)
        return self._lane_share[shards, pf]

    def provisioned_write_rps(self, shards: int) -> float:
        """Records/s the stream accepts before its hottest shard refuses (records or bytes limit)."""
        if shards not in self._shard_share:
            self._shard_share[shards] = self.setup.keys.max_shard_share(shards)
        per_shard = min(
            quotas.SHARD_WRITE_RECORDS_PER_S, quotas.SHARD_WRITE_BYTES_PER_S / self.setup.record_bytes
        )
        return per_shard / self._shard_share[shards]

    def minute(self, flow: Flow, offered: float, write_rps: float, shards: int, pf: int) -> Minute:
        """Advance `flow` by one minute of `offered` records; returns the minute's outcome."""
        demand = offered + flow.producer_pending
        accepted = min(demand, write_rps * MINUTE_S)
        throttled = min(offered, max(0.0, demand - write_rps * MINUTE_S))
        flow.producer_pending = demand - accepted
        rate = accepted / MINUTE_S
        capacity = self.capacity_rps
        hot_rate = rate * self.hot_lane_share(shards, pf)
        backlog_before = flow.lane_backlog
        flow.lane_backlog = max(0.0, backlog_before + (hot_rate - capacity) * MINUTE_S)
        backlog = max(backlog_before, flow.lane_backlog)
        hot = self.steady(min(hot_rate, UNSTABLE_LANE_FRACTION * capacity))
        drain_s = backlog / capacity
        age_ms = (float(hot.iterator_age_max_s) + drain_s) * 1000.0
        e2e_ms = (float(hot.e2e_p99_s) + drain_s) * 1000.0
        lanes = shards * pf
        mean = self.steady(min(rate / lanes, UNSTABLE_LANE_FRACTION * capacity))
        invocations = accepted / max(float(mean.batch_records), 1.0)
        billed_ms = math.ceil(float(mean.service_s) * 1000.0)
        slo = self.setup.slo
        over = (
            age_ms > slo.iterator_age_max_ms
            or e2e_ms > slo.e2e_p99_ms
            or throttled > THROTTLED_SHARE_OVER_SLO * max(offered, 1.0)
        )
        return Minute(accepted, throttled, age_ms, e2e_ms, invocations, invocations * billed_ms, over)


@dataclass
class Series:
    """Per-minute outcomes of one policy over the day, and its shard-count calls."""

    shards: list[float] = field(default_factory=list)  # billed shards (the larger one while resharding)
    pf: list[int] = field(default_factory=list)
    write_capacity_rps: list[float] = field(default_factory=list)
    minutes: list[Minute] = field(default_factory=list)
    shard_calls: list[dict[str, object]] = field(default_factory=list)
    pf_changes: list[dict[str, object]] = field(default_factory=list)
    refused_calls: int = 0  # decisions UpdateShardCount would have refused (quota), not made

    def array(self, name: str) -> np.ndarray:
        return np.array([getattr(minute, name) for minute in self.minutes], dtype=float)
