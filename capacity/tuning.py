"""A power-tuning sweep's table: per (memory, architecture), what the REPORT lines of the same replayed
batches said (duration, billed duration, max memory used, init duration) and what a million CDRs cost in
Lambda compute at that setting; the cheapest, the fastest within 10 % of it, and the measured duration curve
the planner uses instead of its memory-scaling estimate (capacity/fit.py `memory_time_factor`).

The rows come from `capacity.log_invocations.invocation_rows` (the one REPORT/EMF parser), one frame per
configuration; tune.json is `TuneTable.to_dict()`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from capacity import quotas
from capacity.errors import CapacityError
from capacity.quotas import US_EAST_1, Prices

ARCHITECTURES = ("arm64", "x86_64")
FASTEST_WITHIN = 0.10  # "the fastest within 10 % of the cheapest"
HOST_BOUND = 0.9  # a CPU share above this x what the host gives an unlimited process is the host's cap
TUNE_FILE = "tune.json"
TUNE_CSV = "tune.csv"
TABLE_COLUMNS = (
    "memory_mb",
    "architecture",
    "status",
    "invocations",
    "batch_records",
    "duration_ms_mean",
    "duration_ms_p90",
    "billed_duration_ms_mean",
    "max_memory_used_mb",
    "init_duration_ms",
    "cold_duration_ms",
    "cost_per_million_cdrs_usd",
    "cpu_share",
    "handler_cpu_ms",
    "note",
)


class TuneError(CapacityError):
    """A sweep option or a tune.json the planner cannot use; the message names the value."""


def parse_memories(text: str) -> tuple[int, ...]:
    """`--memory 256,512,1769` -> sizes in MB, each within Lambda's 128-10,240 MB."""
    sizes: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part.isdigit():
            raise TuneError(f"--memory {text!r}: {part!r} is not a whole number of MB (e.g. 256,512,1769)")
        memory_mb = int(part)
        if not quotas.LAMBDA_MEMORY_MB_MIN <= memory_mb <= quotas.LAMBDA_MEMORY_MB_MAX:
            raise TuneError(
                f"--memory {memory_mb} MB is outside Lambda's {quotas.LAMBDA_MEMORY_MB_MIN}-"
                f"{quotas.LAMBDA_MEMORY_MB_MAX} MB"
            )
        sizes.append(memory_mb)
    return tuple(sorted(set(sizes)))


def parse_architectures(text: str) -> tuple[str, ...]:
    """`--arch arm64,x86_64` -> the architectures, each one Lambda offers."""
    names = [p.strip() for p in text.split(",") if p.strip()]
    for name in names:
        if name not in ARCHITECTURES:
            raise TuneError(f"--arch {name!r} is not a Lambda architecture; use {' or '.join(ARCHITECTURES)}")
    if not names:
        raise TuneError(f"--arch {text!r}: name at least one of {', '.join(ARCHITECTURES)}")
    return tuple(dict.fromkeys(names))


def cost_per_million_cdrs_usd(
    billed_duration_ms: float, memory_mb: int, architecture: str, batch_records: float, prices: Prices
) -> float:
    """Lambda's bill for a million CDRs at this setting: GB-seconds of the billed duration plus requests."""
    invocations = 1e6 / batch_records
    gb_seconds = invocations * billed_duration_ms / 1000.0 * memory_mb / 1024.0
    return gb_seconds * prices.lambda_gb_second_usd(architecture) + invocations * (
        prices.lambda_requests_per_million_usd / 1e6
    )


@dataclass(frozen=True)
class TuneRow:
    """One configuration of the sweep. status: "measured", or "not measured" with the reason in `note`."""

    memory_mb: int
    architecture: str
    status: str
    invocations: int = 0
    batch_records: float = math.nan
    duration_ms_mean: float = math.nan
    duration_ms_p90: float = math.nan
    billed_duration_ms_mean: float = math.nan
    max_memory_used_mb: float = math.nan
    init_duration_ms: float = math.nan
    cold_duration_ms: float = math.nan  # the cold invocation's own duration (its handler builds its clients)
    cost_per_million_cdrs_usd: float = math.nan
    cpu_share: float = math.nan
    handler_cpu_ms: float = math.nan  # CPU time of a warm invocation, where the target can tell (local)
    note: str = ""

    @property
    def measured(self) -> bool:
        return self.status == "measured"


def host_bound_note(cpu_share: float, host_cpu_cores: float) -> str:
    """Why a row's CPU share was not what capped it, when the host gave less than the share."""
    if math.isnan(cpu_share) or math.isnan(host_cpu_cores) or cpu_share <= HOST_BOUND * host_cpu_cores:
        return ""
    return (
        f"host-bound: the host gave an unlimited process {host_cpu_cores:.2f} of a core, not clearly more "
        f"than this share of {cpu_share:.2f}, so the host rather than the limiter capped it; a quieter "
        "host measures it"
    )


def summarise(
    memory_mb: int,
    architecture: str,
    rows: pd.DataFrame,
    *,
    prices: Prices = US_EAST_1,
    cpu_share: float = math.nan,
    handler_cpu_ms: float = math.nan,
    note: str = "",
) -> TuneRow:
    """One configuration's row from its invocation rows (one per REPORT line).

    Durations are the warm invocations' (no Init Duration): the sweep compares steady state, and the init
    duration is reported on its own. Max memory used is the peak over every invocation.
    """
    if rows.empty:
        return TuneRow(
            memory_mb,
            architecture,
            "not measured",
            note="; ".join(filter(None, ["no REPORT line was read", note])),
        )
    warm = rows[rows["init_duration_ms"].isna()]
    warm = warm if not warm.empty else rows
    records = float(warm["batch_records"].mean())
    if not records > 0:
        raise TuneError(
            f"{memory_mb} MB {architecture}: the REPORT lines' invocations carry no RecordsIn EMF metric, "
            "so the cost per CDR is unknown"
        )
    billed = float(warm["billed_duration_ms"].mean())
    cold = rows[rows["init_duration_ms"].notna()]
    init = cold["init_duration_ms"]
    return TuneRow(
        memory_mb=memory_mb,
        architecture=architecture,
        status="measured",
        invocations=len(rows),
        batch_records=round(records, 1),
        duration_ms_mean=round(float(warm["duration_ms"].mean()), 2),
        duration_ms_p90=round(float(np.percentile(warm["duration_ms"], 90)), 2),
        billed_duration_ms_mean=round(billed, 1),
        max_memory_used_mb=float(rows["max_memory_used_mb"].max()),
        init_duration_ms=round(float(init.mean()), 1) if not init.empty else math.nan,
        cold_duration_ms=round(float(cold["duration_ms"].mean()), 1) if not cold.empty else math.nan,
        cost_per_million_cdrs_usd=round(
            cost_per_million_cdrs_usd(billed, memory_mb, architecture, records, prices), 6
        ),
        cpu_share=cpu_share,
        handler_cpu_ms=round(handler_cpu_ms, 1),
        note=note,
    )


@dataclass(frozen=True)
class TuneTable:
    """The sweep: its rows, where it ran, the cheapest and the fastest within 10 % of the cheapest."""

    rows: tuple[TuneRow, ...]
    target: str
    measured_on: str  # "local (x86_64 host, cgroup-v1 CPU limiter)" or "AWS Lambda"
    batch_size: int
    batches: int
    source: str  # where the batches came from
    source_run: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def measured(self) -> list[TuneRow]:
        return [row for row in self.rows if row.measured]

    def cheapest(self) -> TuneRow | None:
        measured = self.measured
        return (
            min(measured, key=lambda r: (r.cost_per_million_cdrs_usd, r.duration_ms_mean))
            if measured
            else None
        )

    def fastest_near_cheapest(self, within: float = FASTEST_WITHIN) -> TuneRow | None:
        """The fastest configuration costing at most (1 + within) x the cheapest's cost per million CDRs."""
        cheapest = self.cheapest()
        if cheapest is None:
            return None
        budget = cheapest.cost_per_million_cdrs_usd * (1.0 + within)
        near = [row for row in self.measured if row.cost_per_million_cdrs_usd <= budget]
        return min(near, key=lambda r: (r.duration_ms_mean, r.cost_per_million_cdrs_usd))

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(row) for row in self.rows], columns=list(TABLE_COLUMNS))

    def to_dict(self) -> dict[str, Any]:
        cheapest, fastest = self.cheapest(), self.fastest_near_cheapest()
        return {
            "target": self.target,
            "measured_on": self.measured_on,
            "batch_size": self.batch_size,
            "batches": self.batches,
            "source": self.source,
            "source_run": self.source_run,
            "rows": [_json_row(row) for row in self.rows],
            "cheapest": _key(cheapest),
            "fastest_within_10pct_of_cheapest": _key(fastest),
            **self.extra,
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> TuneTable:
        try:
            rows = tuple(_row_from_json(row) for row in document["rows"])
            known = {"target", "measured_on", "batch_size", "batches", "source", "source_run", "rows"}
            return cls(
                rows=rows,
                target=str(document["target"]),
                measured_on=str(document["measured_on"]),
                batch_size=int(document["batch_size"]),
                batches=int(document["batches"]),
                source=str(document["source"]),
                source_run=document.get("source_run"),
                extra={
                    k: v
                    for k, v in document.items()
                    if k not in known and k not in ("cheapest", "fastest_within_10pct_of_cheapest")
                },
            )
        except (KeyError, TypeError, ValueError) as error:
            raise TuneError(f"{TUNE_FILE} is not a tune table ({error}); rerun `cdrcap tune`") from error


def _row_from_json(row: dict[str, Any]) -> TuneRow:
    values: dict[str, Any] = {k: (math.nan if v is None else v) for k, v in row.items()}
    return TuneRow(**values)


def _json_row(row: TuneRow) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(row).items()}


def _key(row: TuneRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "memory_mb": row.memory_mb,
        "architecture": row.architecture,
        "duration_ms_mean": row.duration_ms_mean,
        "cost_per_million_cdrs_usd": row.cost_per_million_cdrs_usd,
    }


@dataclass(frozen=True)
class DurationCurve:
    """Measured mean duration of a `batch_records` batch per (architecture, memory), for the planner."""

    points: dict[str, tuple[tuple[int, float], ...]]  # architecture -> ((memory_mb, duration_ms), ...)
    batch_records: float
    source: str
    batch_kib: float = 0.0

    @classmethod
    def from_table(cls, table: TuneTable, source: str) -> DurationCurve:
        points: dict[str, list[tuple[int, float]]] = {}
        for row in table.measured:
            points.setdefault(row.architecture, []).append((row.memory_mb, row.duration_ms_mean))
        if not points:
            raise TuneError(f"{source}: no configuration was measured, so there is no curve to plan with")
        records = float(np.mean([row.batch_records for row in table.measured]))
        kib = float(table.extra.get("batch_kib") or 0.0)
        return cls({a: tuple(sorted(p)) for a, p in points.items()}, records, source, kib)

    def speed(self, service_ms_at_batch: float, memory_mb: int, architecture: str) -> float:
        """Multiplier on a service-time model that predicts `service_ms_at_batch` for the sweep's batch:
        the measured duration at this setting over it (the model keeps its shape in batch size)."""
        if not service_ms_at_batch > 0:
            raise TuneError(f"service time {service_ms_at_batch} ms at the sweep's batch must be > 0")
        return self.duration_ms(memory_mb, architecture) / service_ms_at_batch

    @property
    def memories_mb(self) -> tuple[int, ...]:
        return tuple(sorted({m for points in self.points.values() for m, _ in points}))

    def stand_in(self, architecture: str) -> str:
        """The architecture whose curve answers for `architecture` (itself when measured)."""
        if architecture in self.points:
            return architecture
        return sorted(self.points)[0]

    def duration_ms(self, memory_mb: int, architecture: str) -> float:
        """Measured duration, linear between measured memories (flat beyond the ends: no extrapolation)."""
        points = self.points[self.stand_in(architecture)]
        memories = np.array([m for m, _ in points], dtype=float)
        durations = np.array([d for _, d in points], dtype=float)
        return float(np.interp(memory_mb, memories, durations))

    def sentence(self, architectures: tuple[str, ...]) -> str:
        measured = ", ".join(
            f"{arch} at {', '.join(f'{m:,}' for m, _ in self.points[arch])} MB"
            for arch in sorted(self.points)
        )
        text = f"service time per memory size measured by a power-tuning sweep ({self.source}): {measured}"
        missing = [a for a in architectures if a not in self.points]
        if missing:
            text += "; " + ", ".join(
                f"{a} not measured: the {self.stand_in(a)} curve stands in for it" for a in missing
            )
        return text
