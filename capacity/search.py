"""The planner's vectorised grid: every (shards, PF, batch, window, memory, architecture) of one consumer
mode evaluated at once with the analytic model, with its cost and its quota and SLO checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from capacity import costs, quotas
from capacity.costs import Retention
from capacity.errors import CapacityError
from capacity.fit import ServiceTimeModel, memory_time_factor
from capacity.model import LaneSteadyState, ReadPath, steady_state
from capacity.quotas import Prices
from capacity.resource_use import DEFAULT as DEFAULT_USE
from capacity.resource_use import DEPLOYED_DESIGN, EXACTLY_ONCE_WRITE_UNITS_PER_CDR, ResourceUse
from capacity.skew import KeyDistribution, uniform
from capacity.tuning import DurationCurve
from pipeline.constants import EXACTLY_ONCE_DESIGNS

ARCHITECTURES = ("arm64", "x86_64")
MAX_SHARD_SCAN_STEPS = 400
UNBOUNDED_RATIO = 1e6
# The harness's bound on a producer's buffering (loadgen/kpl.py's too): longer is a latency bug, not a plan.
LONGEST_PRODUCER_WAIT_MS = 10_000.0


@dataclass(frozen=True)
class Slo:
    """Service level the plan must meet at the planning rate, and the stability margin above it."""

    e2e_p99_ms: float = 5_000.0
    iterator_age_max_ms: float = 60_000.0
    headroom_factor: float = 2.0

    def to_dict(self) -> dict[str, float]:
        return {
            "e2e_p99_ms": self.e2e_p99_ms,
            "iterator_age_max_ms": self.iterator_age_max_ms,
            "headroom_factor": self.headroom_factor,
        }


@dataclass(frozen=True)
class Workload:
    """The load to plan for (its peak), and what each invocation writes downstream."""

    rate_rps: float  # CDRs/s
    record_bytes: float  # per CDR
    keys: KeyDistribution = field(default_factory=uniform)
    other_consumers: int = 0  # other polling consumers of the input stream (they share GetRecords)
    current_shards: int | None = None
    # What each CDR and invocation asks of the sinks (measured by a run, a file, or the bench defaults)
    use: ResourceUse = DEFAULT_USE
    retention: Retention = field(default_factory=Retention)
    # CDRs per Kinesis record: 1 without aggregation; a KPL producer packs many (measured by a load run's
    # cdrs_per_kinesis_record or given). The write-records limit and the PUT units see Kinesis records.
    cdrs_per_record: float = 1.0
    # How long a CDR waits in the producer's buffer before it is sent (an aggregating producer's buffering
    # time, the KPL's RecordMaxBufferedTime): added to the end-to-end latency the SLO checks.
    producer_wait_ms: float = 0.0
    # The exactly-once design the pipeline runs (CDRCAP_EXACTLY_ONCE, template ExactlyOnceDesign): it decides
    # which DynamoDB partition key is the hottest (`hot_partition_write_units_per_s`).
    exactly_once: str = DEPLOYED_DESIGN

    @property
    def kinesis_records_per_s(self) -> float:
        return self.rate_rps / self.cdrs_per_record

    def validate(self) -> None:
        if not self.rate_rps > 0:
            raise CapacityError(f"rate {self.rate_rps} records/s must be > 0")
        if not 0 < self.record_bytes <= quotas.MAX_RECORD_BYTES:
            raise CapacityError(
                f"record size {self.record_bytes} B must be within 1..{quotas.MAX_RECORD_BYTES}"
            )
        if self.other_consumers < 0:
            raise CapacityError(f"other consumers {self.other_consumers} must be >= 0")
        if self.exactly_once not in EXACTLY_ONCE_DESIGNS:
            raise CapacityError(
                f"exactly-once design {self.exactly_once!r}: give one of {', '.join(EXACTLY_ONCE_DESIGNS)}"
            )
        if not 1.0 <= self.cdrs_per_record <= quotas.MAX_RECORD_BYTES / self.record_bytes:
            raise CapacityError(
                f"{self.cdrs_per_record:g} CDRs per Kinesis record must be >= 1 (1 = no aggregation) and fit "
                f"one record: at {self.record_bytes:g} B per CDR at most "
                f"{quotas.MAX_RECORD_BYTES / self.record_bytes:,.0f}"
            )
        if not 0.0 <= self.producer_wait_ms <= LONGEST_PRODUCER_WAIT_MS:
            raise CapacityError(
                f"producer buffering {self.producer_wait_ms:g} ms must be within "
                f"0..{LONGEST_PRODUCER_WAIT_MS:g}"
            )


@dataclass(frozen=True)
class SearchSpace:
    """What the planner may choose from, and the assumptions it searches under."""

    parallelization_factors: tuple[int, ...] = tuple(
        range(quotas.ESM_PARALLELIZATION_FACTOR_MIN, quotas.ESM_PARALLELIZATION_FACTOR_MAX + 1)
    )
    # Each grid ends at (batch size) or passes through (memory) the AWS value that changes behaviour: the
    # largest batch the mapping takes, the smallest memory and the memory of one full vCPU.
    batch_sizes: tuple[int, ...] = (10, 25, 50, 100, 200, 500, 1_000, 2_000, 5_000, quotas.ESM_BATCH_SIZE_MAX)
    batching_windows_s: tuple[int, ...] = (0, 1, 2, 3, 5)
    memories_mb: tuple[int, ...] = (
        quotas.LAMBDA_MEMORY_MB_MIN,
        256,
        512,
        1_024,
        quotas.LAMBDA_MB_PER_VCPU,
        2_048,
        3_008,
    )
    architectures: tuple[str, ...] = ARCHITECTURES
    consumer_modes: tuple[str, ...] = ("shared", "efo")
    # Shard counts tried, as multiples of the stream's bound: a few more shards than the bound can pay for
    # themselves (smaller lanes let a longer batching window meet the SLO: fewer invocations), so the first
    # step is small (x1.1: at 50,000 CDR/s of KPL-aggregated 415 B, 44 shards where x1.25 gave 50).
    shard_multipliers: tuple[float, ...] = (1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 4.0)
    concurrency_limit: int = quotas.LAMBDA_DEFAULT_ACCOUNT_CONCURRENCY
    arm64_duration_factor: float = 1.0  # assumption: same speed on Graviton unless measured
    cpu_bound_fraction: float = 1.0  # share of the handler time that scales with CPU (memory)
    # A power-tuning sweep's measured durations (tune.json): they replace the memory and architecture
    # estimates above for every (memory, architecture) of the grid.
    measured_curve: DurationCurve | None = None
    finalists: int = 10
    simulate_s: float = 120.0
    # Simulations (seeds) per finalist: their median is the prediction, their 10th-90th percentiles its 80%
    # interval (capacity/intervals.py). Few, because each finalist is simulated: 5 cost ~x2 planner time.
    replications: int = 5
    read_paths: dict[str, ReadPath] | None = None  # override (e.g. the local runtime's poll cadence)

    def read_path(self, mode: str, polling_consumers: int) -> ReadPath:
        if self.read_paths and mode in self.read_paths:
            return self.read_paths[mode]
        return ReadPath.efo() if mode == "efo" else ReadPath.shared(polling_consumers)


@dataclass(frozen=True)
class PlanInputs:
    """What one plan was computed from, handed together to the analyses of its recommendation (cold starts
    and provisioned concurrency, the scaling policies over a day)."""

    service: ServiceTimeModel
    workload: Workload
    slo: Slo = field(default_factory=Slo)
    space: SearchSpace = field(default_factory=SearchSpace)
    prices: Prices = quotas.US_EAST_1


@dataclass(frozen=True)
class ShardBounds:
    """Minimum shard counts by each stream limit at the headroom rate (skew-aware)."""

    by_records: int
    by_bytes: int
    by_shared_read: int
    hot_key_fits: bool

    def minimum(self, mode: str) -> int:
        read = self.by_shared_read if mode == "shared" else 0
        return max(self.by_records, self.by_bytes, read, 1)


def min_shards(keys: KeyDistribution, demand_per_s: float, limit_per_s: float) -> tuple[int, bool]:
    """Fewest shards whose hottest shard stays within the limit; (shards, whether any count fits)."""
    if keys.hottest_key_share * demand_per_s > limit_per_s:
        return max(1, math.ceil(demand_per_s / limit_per_s)), False
    shards = max(1, math.ceil(demand_per_s / limit_per_s))
    for _ in range(MAX_SHARD_SCAN_STEPS):
        if demand_per_s * keys.max_shard_share(shards) <= limit_per_s:
            return shards, True
        shards += max(1, shards // 50)
    return shards, False


def shard_bounds(workload: Workload, slo: Slo) -> ShardBounds:
    peak = workload.rate_rps * slo.headroom_factor
    keys = workload.keys
    by_records, records_ok = min_shards(
        keys, peak / workload.cdrs_per_record, quotas.SHARD_WRITE_RECORDS_PER_S
    )
    by_bytes, bytes_ok = min_shards(keys, peak * workload.record_bytes, quotas.SHARD_WRITE_BYTES_PER_S)
    readers = 1 + workload.other_consumers
    by_read, _ = min_shards(keys, peak * workload.record_bytes * readers, quotas.SHARD_READ_BYTES_PER_S)
    return ShardBounds(by_records, by_bytes, by_read, records_ok and bytes_ok)


def output_shards(workload: Workload, slo: Slo) -> int:
    """Shards of the output stream: the enriched records (measured count and bytes per CDR), keyed like the
    input (the handler re-uses each record's partition key), within the write limits at the headroom rate."""
    peak = workload.rate_rps * slo.headroom_factor
    use = workload.use
    by_records, _ = min_shards(workload.keys, peak * use.output_records, quotas.SHARD_WRITE_RECORDS_PER_S)
    by_bytes, _ = min_shards(workload.keys, peak * use.output_bytes, quotas.SHARD_WRITE_BYTES_PER_S)
    return max(by_records, by_bytes, 1)


def with_producer_wait(lane: LaneSteadyState, workload: Workload) -> LaneSteadyState:
    """The lane's end-to-end latencies with the producer's buffering added: a CDR waits up to the
    buffering time (p99 and max: all of it, p50: half, as arrivals spread over the window)."""
    wait_s = workload.producer_wait_ms / 1000.0
    if wait_s <= 0:
        return lane
    return replace(
        lane,
        e2e_p50_s=lane.e2e_p50_s + wait_s / 2,
        e2e_p99_s=lane.e2e_p99_s + wait_s,
        e2e_max_s=lane.e2e_max_s + wait_s,
    )


def hottest_item_write_units_per_s(invocations_per_s: Any, workload: Workload) -> Any:
    """Write units per second on the most-written aggregate item (one item, one partition).

    Every lane's batches write the same hot items (the home country's destination minute), so the whole
    function's writes of that item add up. Per batch the measured count grows with the batch (records of the
    hot destination spill over several transactions), hence per CDR at the measured batch, but at least one
    write per invocation. Each write costs the measured units per item write."""
    use = workload.use
    per_cdr = use.dynamodb_hottest_item_writes / max(use.measured_batch_records or 1.0, 1.0)
    writes_per_s = np.maximum(np.asarray(invocations_per_s, dtype=float), workload.rate_rps * per_cdr)
    return writes_per_s * use.dynamodb_units_per_item_write


def hot_partition_write_units_per_s(invocations_per_s: Any, hot_shard_share: Any, workload: Workload) -> Any:
    """Write units per second on the most-written DynamoDB partition key, under the design planned.

    per_record and folded write the aggregate items themselves: the hottest is one aggregate item that every
    lane's batches write (`hottest_item_write_units_per_s`). ledger writes no aggregate item: each shard's
    commits write that shard's claims items (pk claims#<shard>) and delta items (pk delta#<minute>#<shard>),
    so the hottest key is the hottest shard's, at its CDRs x ledger's measured write units per CDR (both keys
    counted as one: an upper bound). More input shards spread it; the batching does not change it."""
    if workload.exactly_once == "ledger":
        ledger_units = EXACTLY_ONCE_WRITE_UNITS_PER_CDR["ledger"]
        return workload.rate_rps * np.asarray(hot_shard_share, dtype=float) * ledger_units
    return hottest_item_write_units_per_s(invocations_per_s, workload)


@dataclass(frozen=True)
class Grid:
    """One consumer mode's evaluated configurations, one element per configuration."""

    consumer_mode: str
    read: ReadPath
    shards: np.ndarray
    parallelization_factor: np.ndarray
    batch_size: np.ndarray
    batching_window_s: np.ndarray
    memory_mb: np.ndarray
    architecture_index: np.ndarray
    hot_lane_rate_rps: np.ndarray
    speed: np.ndarray  # multiplier on the fitted service time (memory and architecture)
    hot: LaneSteadyState
    breakdown: dict[str, Any]
    cost_usd: np.ndarray
    invocations_per_s: np.ndarray  # over every lane of every shard, at the planning rate
    output_shards: int  # the output stream's shards (the same for every configuration of the workload)
    feasible: np.ndarray
    violation: np.ndarray  # max of (predicted / limit) over every check; <= 1 means within all
    excess: np.ndarray  # sum of the ratios' excess over 1: ranks misses that tie on the worst ratio
    checks: dict[str, np.ndarray]  # each check's ratio (predicted / limit), named as a requirement

    def violated(self, index: int) -> list[str]:
        """The requirements one configuration misses, worst first, with by how much."""
        missed = [
            (float(ratio[index]), name) for name, ratio in self.checks.items() if not ratio[index] <= 1.0
        ]
        missed.sort(reverse=True)
        return [
            f"{name} (x{ratio:,.2f})" if np.isfinite(ratio) else f"{name} (unbounded)"
            for ratio, name in missed
        ]

    def config(self, index: int) -> dict[str, Any]:
        return {
            "shards": int(self.shards[index]),
            "parallelization_factor": int(self.parallelization_factor[index]),
            "batch_size": int(self.batch_size[index]),
            "batching_window_s": int(self.batching_window_s[index]),
            "memory_mb": int(self.memory_mb[index]),
            "architecture": ARCHITECTURES[int(self.architecture_index[index])],
            "stream_mode": "PROVISIONED",
            "consumer_mode": self.consumer_mode,
            "output_shards": self.output_shards,
        }


def speed_factor(memory_mb: int, architecture: str, service: ServiceTimeModel, space: SearchSpace) -> float:
    """One configuration's multiplier on the fitted service time, by the same rule as the grid's."""
    memory = np.array([memory_mb])
    arch = np.array([ARCHITECTURES.index(architecture)])
    known = space.memories_mb if memory_mb in space.memories_mb else (*space.memories_mb, memory_mb)
    return float(_speed(memory, arch, service, replace(space, memories_mb=known))[0])


def _speed(memory: np.ndarray, arch: np.ndarray, service: ServiceTimeModel, space: SearchSpace) -> np.ndarray:
    """Multiplier on the fitted service time per configuration: measured (tune.json) or estimated."""
    memories = np.sort(np.asarray(space.memories_mb, dtype=float))
    curve = space.measured_curve
    if curve is not None:
        at_batch = float(service.duration_ms(curve.batch_records, curve.batch_kib))
        table = np.array([[curve.speed(at_batch, int(m), name) for m in memories] for name in ARCHITECTURES])
        return np.asarray(table[arch, np.searchsorted(memories, memory)], dtype=float)
    memory_factors = np.array(
        [memory_time_factor(service.memory_mb, int(m), space.cpu_bound_fraction) for m in memories]
    )
    return np.asarray(
        memory_factors[np.searchsorted(memories, memory)]
        * np.where(arch == 0, space.arm64_duration_factor, 1.0),
        dtype=float,
    )


def evaluate_mode(
    mode: str,
    shard_counts: list[int],
    service: ServiceTimeModel,
    workload: Workload,
    slo: Slo,
    space: SearchSpace,
    prices: Prices,
    write_fits: bool,
) -> Grid:
    """Evaluate every configuration of one consumer mode over the given shard counts."""
    read = space.read_path(mode, 1 + workload.other_consumers)
    pairs = [(n, pf) for n in shard_counts for pf in space.parallelization_factors]
    hot_share = np.array([workload.keys.max_lane_share(n, pf) for n, pf in pairs])
    settings = np.array(
        np.meshgrid(
            np.arange(len(pairs)),
            np.asarray(space.batch_sizes, dtype=float),
            np.asarray(space.batching_windows_s, dtype=float),
            np.sort(np.asarray(space.memories_mb, dtype=float)),
            np.array([ARCHITECTURES.index(arch) for arch in space.architectures]),
            indexing="ij",
        )
    ).reshape(5, -1)
    pair_index = settings[0].astype(int)
    shards = np.array([pairs[i][0] for i in range(len(pairs))], dtype=float)[pair_index]
    pf = np.array([pairs[i][1] for i in range(len(pairs))], dtype=float)[pair_index]
    batch, window, memory, arch = settings[1], settings[2], settings[3], settings[4].astype(int)

    speed = _speed(memory, arch, service, space)
    service_ms = (service.a_ms * speed, service.b_ms_per_record * speed, service.c_ms_per_kib * speed)
    rate = workload.rate_rps
    hot_rate = rate * hot_share[pair_index]
    mean_rate = rate / (shards * pf)
    hot = with_producer_wait(
        steady_state(hot_rate, workload.record_bytes, batch, window, service_ms, read), workload
    )
    mean = steady_state(mean_rate, workload.record_bytes, batch, window, service_ms, read)

    invocations_per_s = shards * pf * mean_rate / mean.batch_records
    gb_second = np.where(arch == 0, prices.lambda_gb_second_arm64_usd, prices.lambda_gb_second_x86_64_usd)
    out_shards = output_shards(workload, slo)  # the same for every configuration of this workload
    inputs = costs.CostInputs(
        rate_rps=rate,
        record_bytes=workload.record_bytes,
        use=workload.use,
        retention=workload.retention,
        cdrs_per_record=workload.cdrs_per_record,
    )
    breakdown = {
        **costs.stream_cost_usd(shards, "PROVISIONED", inputs, prices),
        **costs.efo_cost_usd(shards, mode == "efo", inputs, prices),
        **costs.consumer_cost_usd(invocations_per_s, mean.service_s * 1000.0, memory, gb_second, prices),
        **costs.sink_cost_usd(invocations_per_s, shards, out_shards, inputs, prices),
    }
    headroom = slo.headroom_factor
    shard_share = np.array([workload.keys.max_shard_share(n) for n, _ in pairs])[pair_index]
    hot_item_wcu = hot_partition_write_units_per_s(invocations_per_s, shard_share, workload) * headroom
    # A hot item the CDR rate alone overloads (whatever the batching) is a sink quota no stream
    # configuration fixes: the search then only prefers configurations that add no invocation writes on
    # top, so the stream is sized by the stream; the quota check (capacity/sinks.py) still fails the plan.
    # (ledger's hot keys are per shard: more shards do fix them, so no floor.)
    hot_item_floor = (
        0.0
        if workload.exactly_once == "ledger"
        else float(hottest_item_write_units_per_s(0.0, workload)) * headroom
    )
    hot_item_limit = max(float(quotas.DDB_PARTITION_WCU_PER_S), hot_item_floor)
    hot_what = "partition key" if workload.exactly_once == "ledger" else "item"
    consumers = 1 + workload.other_consumers
    efo_consumers = consumers / quotas.EFO_MAX_CONSUMERS_PER_STREAM if mode == "efo" else 0.0
    checks = {
        f"stable at {headroom:g}x the rate": hot.utilisation * headroom,
        f"e2e p99 <= {slo.e2e_p99_ms:,.0f} ms": hot.e2e_p99_s * 1000.0 / slo.e2e_p99_ms,
        f"IteratorAge max <= {slo.iterator_age_max_ms:,.0f} ms": hot.iterator_age_max_s
        * (1000.0 / slo.iterator_age_max_ms),
        f"shards x PF <= concurrency limit {space.concurrency_limit:,}": shards
        * pf
        / space.concurrency_limit,
        f"hottest DynamoDB {hot_what} <= {hot_item_limit:,.0f} WCU/s": hot_item_wcu / hot_item_limit,
        f"<= {quotas.EFO_MAX_CONSUMERS_PER_STREAM} EFO consumers": np.full_like(shards, efo_consumers),
    }
    # An unstable lane has unbounded latency: it ranks behind every stable miss, and among the unstable
    # ones by how overloaded they are.
    overload = UNBOUNDED_RATIO + hot.utilisation * headroom
    ratios = np.vstack([np.where(np.isfinite(check), check, overload) for check in checks.values()])
    violation = np.max(ratios, axis=0)
    excess = np.sum(np.maximum(ratios - 1.0, 0.0), axis=0)
    # utilisation * headroom must stay strictly below 1; the other ratios may reach 1. A hot key that no
    # shard can hold fails every configuration, so it is left out of the ranking of near misses.
    feasible = (violation <= 1.0) & (hot.utilisation * headroom < 1.0) & write_fits
    return Grid(
        consumer_mode=mode,
        read=read,
        shards=shards.astype(int),
        parallelization_factor=pf.astype(int),
        batch_size=batch.astype(int),
        batching_window_s=window.astype(int),
        memory_mb=memory.astype(int),
        architecture_index=arch,
        hot_lane_rate_rps=hot_rate,
        speed=speed,
        hot=hot,
        breakdown=breakdown,
        cost_usd=np.asarray(costs.total_usd(breakdown), dtype=float) + 0.0 * shards,
        invocations_per_s=np.asarray(invocations_per_s, dtype=float),
        output_shards=out_shards,
        feasible=feasible,
        violation=violation,
        excess=excess,
        checks=checks,
    )
