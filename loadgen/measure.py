"""Per-second load measurements and the run summary: `<run_dir>/data/load_seconds.csv`, `load_summary.json`.

Counts are bucketed by the second of the INTENDED send time, latencies are raw values per second so
distributed workers can ship their seconds to the master, which merges them and writes the files.
offered/accepted/throttled/... count CDRs; the `kinesis_records_*` columns count Kinesis records, which
differ only when CDRs are aggregated (KPL): the shard's 1,000 records/s limit sees those.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from loadgen.producer import COUNT_FIELDS, PutOutcome

SECONDS_FILE = "load_seconds.csv"
SUMMARY_FILE = "load_summary.json"
LIVE_FILE = "load_live.json"  # rewritten every few seconds during a run, for progress displays
SECONDS_COLUMNS = (
    "epoch_s", "step", "target_rps", "offered", "accepted", "throttled", "failed", "retried", "dropped",
    "put_latency_p50_ms", "put_latency_p99_ms", "schedule_lag_ms",
    "kinesis_records_offered", "kinesis_records_accepted", "kinesis_records_throttled",
)  # fmt: skip
COUNTS = COUNT_FIELDS  # offered, ..., accepted_bytes, kinesis_records_*: PutOutcome's counts


@dataclass
class Second:
    epoch_s: int
    step: int = 0
    target_rps: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    call_latency_ms: list[float] = field(default_factory=list)  # each PutRecords call
    intended_latency_ms: list[float] = field(default_factory=list)  # intended send -> last call done
    lag_ms: list[float] = field(default_factory=list)  # intended send -> first call started

    def to_message(self) -> dict[str, Any]:
        return {
            "epoch_s": self.epoch_s,
            "step": self.step,
            "target_rps": self.target_rps,
            "counts": self.counts,
            "call_latency_ms": self.call_latency_ms,
            "intended_latency_ms": self.intended_latency_ms,
            "lag_ms": self.lag_ms,
        }


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


class LoadRecorder:
    """Collects per-put results by second; mergeable across processes (Locust workers -> master)."""

    def __init__(self) -> None:
        self.seconds: dict[int, Second] = {}

    def record(
        self,
        intended_epoch_s: float,
        outcome: PutOutcome,
        *,
        started_epoch_s: float,
        finished_epoch_s: float,
        target_rps: float,
        step: int,
    ) -> None:
        second = self._second(int(intended_epoch_s))
        second.step, second.target_rps = step, target_rps
        for name in COUNTS:
            second.counts[name] += getattr(outcome, name)
        second.call_latency_ms += [call.latency_ms for call in outcome.calls]
        second.intended_latency_ms.append((finished_epoch_s - intended_epoch_s) * 1000)
        second.lag_ms.append(max(started_epoch_s - intended_epoch_s, 0.0) * 1000)

    def _second(self, epoch_s: int) -> Second:
        if epoch_s not in self.seconds:
            self.seconds[epoch_s] = Second(epoch_s)
        return self.seconds[epoch_s]

    def drain(self, before_epoch_s: float | None = None) -> list[dict[str, Any]]:
        """Remove and return the seconds older than `before_epoch_s` (all when None) as messages."""
        done = [s for s in self.seconds if before_epoch_s is None or s < int(before_epoch_s)]
        return [self.seconds.pop(s).to_message() for s in sorted(done)]

    def merge(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            second = self._second(int(message["epoch_s"]))
            second.step = message["step"]
            second.target_rps = message["target_rps"]
            for name in COUNTS:
                second.counts[name] += int(message["counts"].get(name, 0))
            second.call_latency_ms += message["call_latency_ms"]
            second.intended_latency_ms += message["intended_latency_ms"]
            second.lag_ms += message["lag_ms"]

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "epoch_s": s.epoch_s,
                "step": s.step,
                "target_rps": round(s.target_rps, 3),
                **{name: s.counts[name] for name in COUNTS if name != "accepted_bytes"},
                "put_latency_p50_ms": _pct(s.call_latency_ms, 50),
                "put_latency_p99_ms": _pct(s.call_latency_ms, 99),
                "schedule_lag_ms": _pct(s.lag_ms, 99),
            }
            for s in (self.seconds[k] for k in sorted(self.seconds))
        ]

    def summary(self) -> dict[str, Any]:
        seconds = list(self.seconds.values())
        totals = {name: sum(s.counts[name] for s in seconds) for name in COUNTS}
        calls = [v for s in seconds for v in s.call_latency_ms]
        intended = [v for s in seconds for v in s.intended_latency_ms]
        lags = [v for s in seconds for v in s.lag_ms]
        span_s = (max(self.seconds) - min(self.seconds) + 1) if seconds else 0

        def pcts(values: list[float]) -> dict[str, float | None]:
            return {
                "p50": _pct(values, 50),
                "p90": _pct(values, 90),
                "p99": _pct(values, 99),
                "max": round(max(values), 3) if values else None,
            }

        return {
            "totals": totals,
            "seconds": span_s,
            "put_calls": len(calls),
            "offered_rps": totals["offered"] / span_s if span_s else 0.0,
            "accepted_rps": totals["accepted"] / span_s if span_s else 0.0,
            "throttled_rps": totals["throttled"] / span_s if span_s else 0.0,
            "throttle_ratio": totals["throttled"] / max(totals["offered"] + totals["retried"], 1),
            "mean_record_bytes": totals["accepted_bytes"] / totals["accepted"]
            if totals["accepted"]
            else None,  # per CDR (an aggregate's framing shared out over its CDRs)
            "kinesis_records_accepted_rps": totals["kinesis_records_accepted"] / span_s if span_s else 0.0,
            "cdrs_per_kinesis_record": totals["accepted"] / totals["kinesis_records_accepted"]
            if totals["kinesis_records_accepted"]
            else None,
            "put_latency_ms": pcts(calls),
            "latency_from_intended_ms": pcts(intended),
            "schedule_lag_ms": pcts(lags),
            "balanced": totals["offered"] == totals["accepted"] + totals["dropped"],
            "steps": self.steps(),
        }

    def steps(self) -> list[dict[str, Any]]:
        """Per step: its seconds and mean rates (what the run summary's `steps` needs from the load)."""
        by_step: dict[int, list[Second]] = {}
        for epoch_s in sorted(self.seconds):
            by_step.setdefault(self.seconds[epoch_s].step, []).append(self.seconds[epoch_s])
        out = []
        for step, seconds in sorted(by_step.items()):
            span_s = seconds[-1].epoch_s - seconds[0].epoch_s + 1
            calls = [v for s in seconds for v in s.call_latency_ms]
            out.append(
                {
                    "step": step,
                    "rate_rps": max(s.target_rps for s in seconds),
                    "start_epoch_s": seconds[0].epoch_s,
                    "end_epoch_s": seconds[-1].epoch_s + 1,
                    **{
                        f"{name}_rps": sum(s.counts[name] for s in seconds) / span_s
                        for name in ("offered", "accepted", "throttled")
                    },
                    "put_latency_p99_ms": _pct(calls, 99),
                }
            )
        return out

    def write(self, data_dir: Path, extra: dict[str, Any] | None = None) -> tuple[Path, Path]:
        data_dir.mkdir(parents=True, exist_ok=True)
        seconds_path = data_dir / SECONDS_FILE
        with seconds_path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=SECONDS_COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows())
        summary_path = data_dir / SUMMARY_FILE
        summary_path.write_text(json.dumps({**self.summary(), **(extra or {})}, indent=2, sort_keys=True))
        return seconds_path, summary_path


def read_seconds(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def write_live(recorder: LoadRecorder, data_dir: Path, window_s: int = 5) -> None:
    """The last `window_s` complete seconds' rates and the running totals, atomically, for a live display."""
    now_s = int(time.time())
    rows = [row for row in recorder.rows() if row["epoch_s"] < now_s - 1]
    recent = rows[-window_s:]
    span = max(len(recent), 1)
    live = {
        "written_epoch_s": now_s,
        "step": recent[-1]["step"] if recent else None,
        "target_rps": recent[-1]["target_rps"] if recent else 0.0,
        **{
            f"{name}_rps": sum(row[name] for row in recent) / span
            for name in ("offered", "accepted", "throttled")
        },
        "totals": {
            name: sum(row[name] for row in rows) for name in ("offered", "accepted", "throttled", "dropped")
        },
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    scratch = data_dir / f".{LIVE_FILE}.tmp"
    scratch.write_text(json.dumps(live))
    scratch.replace(data_dir / LIVE_FILE)
