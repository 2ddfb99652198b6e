"""Soak: the real local stack (emulator + limits proxy + ESM runtime + real handler) at 80 % of its measured
capacity for CDRCAP_SOAK_S seconds; IteratorAge must stay bounded, every process's RSS flat, and every CDR
accounted for exactly once at the end (`cdrcap verify`'s invariant).

`make bench` runs a short soak (default 180 s). The issue's 30-minute soak:
    CDRCAP_SOAK_S=1800 .venv/bin/python -m tests.benchmarks bench_soak
CDRCAP_SOAK_RPS fixes the rate (skips the capacity probe); CDRCAP_SOAK_SHARDS the shard count (default 4).
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from cdrcap.observe import Resources, observe_target
from cdrcap.truth import TruthBuilder
from cdrcap.verify import VerifyReport, check
from infra.aws import client
from infra.local.stack import LocalStack, LocalStackConfig, StackInfo
from pipeline import constants as c
from pipeline.config import load_config
from tests.corpus.malformed import cases
from tests.support.local_stack import two_free_ports
from tests.support.pipeline_events import as_csv, as_json, kinesis_event, make_cdr

LONG = True  # minutes of wall time: `make bench-long`, not `make bench`

DEFAULT_SOAK_S = 180.0
LOAD_SHARE = 0.8  # of the measured capacity
PROBE_S = 30.0
PROBE_RPS = 1500.0  # well above the real handler's local capacity (~435 records/s, docs/local.md)
SAMPLE_S = 5.0
PUT_BATCH = 100
BAD_EVERY = 50  # one malformed record in 50
DRAIN_DEADLINE_S = 300.0
HANDLER_ENV = {  # the fixtures are dated 2026-11-18; keep them valid and their minute buckets alive
    c.ENV_MAX_RECORD_AGE_DAYS: "3650",
    c.ENV_MAX_CLOCK_SKEW_S: str(10 * 365 * 86400),
    c.ENV_AGGREGATE_TTL_S: str(10 * 365 * 86400),
}
BAD = [
    case.payload for case in cases() if case.payload and case.raw_data is None and "time-" not in case.name
]


@dataclass
class Sample:
    elapsed_s: float
    offered: int
    processed: int
    iterator_age_max_ms: float  # over the invocations that ended since the previous sample
    rss_mb: dict[str, float] = field(default_factory=dict)


def rss_by_role(info: StackInfo) -> dict[str, float]:
    """RSS in MB of each stack process; the ESM's worker processes summed as "workers"."""
    out: dict[str, float] = {}
    for role, pid in info.pids.items():
        try:
            process = psutil.Process(pid)
            out[role] = process.memory_info().rss / 2**20
            if role == "esm":
                workers = process.children(recursive=True)
                out["workers"] = sum(w.memory_info().rss for w in workers) / 2**20
                out["workers_max"] = max((w.memory_info().rss for w in workers), default=0) / 2**20
        except psutil.Error:
            out[role] = float("nan")
    out["bench"] = psutil.Process().memory_info().rss / 2**20
    return out


class TraceTail:
    """Reads the invocation trace incrementally: records processed and iterator ages since last call."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.header = path, 0, None

    def read(self) -> tuple[int, list[float]]:
        if not self.path.exists():
            return 0, []
        with self.path.open(newline="") as trace:
            trace.seek(self.offset)
            text = trace.read()
        complete = text[: text.rfind("\n") + 1]
        self.offset += len(complete.encode())
        lines = complete.splitlines()
        if self.header is None and lines:
            self.header, lines = lines[0], lines[1:]
        rows = list(csv.DictReader(lines, fieldnames=(self.header or "").split(",")))
        ok_rows = [r for r in rows if r["outcome"] == "ok"]
        return sum(int(r["batch_records"]) for r in ok_rows), [float(r["iterator_age_ms"]) for r in rows]


def new_truth() -> TruthBuilder:
    """The ground truth of a load for the stack's handler settings (the store names do not matter)."""
    env = {
        **HANDLER_ENV,
        c.ENV_OUTPUT_STREAM: "o",
        c.ENV_AGGREGATES_TABLE: "t",
        c.ENV_ARCHIVE_BUCKET: "b",
        c.ENV_DLQ_URL: "q",
    }
    return TruthBuilder(load_config(env), int(time.time() * 1000))


class Producer:
    """Paced PutRecords of distinct CDRs (plus some malformed ones) through the limits proxy; each put
    batch also goes into the ground truth."""

    def __init__(self, info: StackInfo, truth: TruthBuilder) -> None:
        self.info, self.truth, self.next_id, self.offered = info, truth, 0, 0
        self.kinesis = client(info.target(), "kinesis", retries=1)  # through the limits proxy

    def payloads(self, count: int) -> list[bytes]:
        out = []
        for _ in range(count):
            i = self.next_id
            self.next_id += 1
            if i % BAD_EVERY == BAD_EVERY - 1:
                out.append(BAD[i // BAD_EVERY % len(BAD)])
            else:
                out.append(as_csv(make_cdr(i), 2) if i % 4 == 3 else as_json(make_cdr(i), 1 + i % 2))
        return out

    def put(self, payloads: list[bytes]) -> None:
        self.truth.add(kinesis_event(payloads, self.offered))  # distinct positions, like the stream's
        self._put_counted(payloads)

    def _put_counted(self, payloads: list[bytes]) -> None:
        pending = [{"PartitionKey": f"pk-{self.offered + k}", "Data": p} for k, p in enumerate(payloads)]
        self.offered += len(pending)
        while pending:  # throttled records are re-put: the load's content is fixed by the truth
            response = self.kinesis.put_records(StreamName=self.info.input_stream_name, Records=pending)
            pending = [r for r, res in zip(pending, response["Records"], strict=True) if "ErrorCode" in res]
            if pending:
                time.sleep(0.05)

    def run(self, rate_rps: float, duration_s: float, stop: threading.Event) -> None:
        started, offered_before = time.monotonic(), self.offered
        while not stop.is_set() and (elapsed := time.monotonic() - started) < duration_s:
            due = int(rate_rps * elapsed) - (self.offered - offered_before)
            if due <= 0:
                time.sleep(0.02)
                continue
            self.put(self.payloads(min(due, PUT_BATCH)))


def _drive(info: StackInfo, producer: Producer, rate_rps: float, duration_s: float) -> list[Sample]:
    tail, samples = TraceTail(Path(info.trace_path)), []
    stop = threading.Event()
    failures: list[BaseException] = []

    def produce() -> None:
        try:
            producer.run(rate_rps, duration_s, stop)
        except BaseException as error:  # re-raised below: a dead producer must not look like "done"
            failures.append(error)

    thread = threading.Thread(target=produce, daemon=True)
    started = time.monotonic()
    thread.start()
    processed = 0
    try:
        while thread.is_alive():
            thread.join(SAMPLE_S)
            done, ages = tail.read()
            processed += done
            samples.append(
                Sample(
                    time.monotonic() - started,
                    producer.offered,
                    processed,
                    max(ages, default=0.0),
                    rss_by_role(info),
                )
            )
    finally:
        stop.set()
        thread.join(30)
    if failures:
        raise RuntimeError(f"the producer failed after {producer.offered} records") from failures[0]
    return samples


def measure_capacity_rps(info: StackInfo, producer: Producer) -> tuple[float, list[Sample]]:
    """Records/s the stack processes when offered far more than it can (the second half of a probe), and
    the probe's samples."""
    samples = _drive(info, producer, PROBE_RPS, PROBE_S)
    half = [s for s in samples if s.elapsed_s >= PROBE_S / 2]
    rate = (half[-1].processed - half[0].processed) / max(half[-1].elapsed_s - half[0].elapsed_s, 1e-9)
    return rate, samples


def wait_verified(info: StackInfo, truth: TruthBuilder) -> tuple[VerifyReport, float]:
    started = time.monotonic()
    resources = Resources(info.aggregates_table, info.archive_bucket, info.dlq_url, info.output_stream_name)
    expected = truth.result()
    while True:
        report = check(expected, observe_target(info.target(), resources))
        if report.ok or time.monotonic() - started > DRAIN_DEADLINE_S:
            return report, time.monotonic() - started
        time.sleep(2.0)


class SoakDoesNotFit(RuntimeError):
    """The emulator would need more memory than the machine has for the whole soak."""


MEMORY_SHARE = 0.7  # of the memory available at the start that the emulator's growth may take


def check_memory_fits(grown_mb: float, records: int, rate_rps: float, duration_s: float) -> dict[str, float]:
    """Project the emulator's growth over the soak from what it grew per record in the probe: it holds
    every record, claim, counter, window item and archive object of the run (MiniStack keeps ~1 KB per
    stream record and ~2 KB per DynamoDB item in memory), so a soak that does not fit must fail up front
    with the numbers, not after half an hour in swap."""
    kb_per_record = max(grown_mb * 1024 / max(records, 1), 0.0)
    projected_mb = kb_per_record * rate_rps * duration_s / 1024
    available_mb = psutil.virtual_memory().available / 2**20
    if projected_mb > MEMORY_SHARE * available_mb:
        raise SoakDoesNotFit(
            f"a {duration_s:.0f} s soak at {rate_rps:.0f} records/s would grow the emulator by ~"
            f"{projected_mb:,.0f} MB ({kb_per_record:.1f} KB per record measured in the probe), over "
            f"{MEMORY_SHARE:.0%} of the {available_mb:,.0f} MB available: set CDRCAP_SOAK_SHARDS lower (less "
            f"capacity, so a lower 80 % rate), CDRCAP_SOAK_RPS, or a shorter CDRCAP_SOAK_S"
        )
    return {"emulator_kb_per_record": round(kb_per_record, 2), "emulator_projected_mb": round(projected_mb)}


def _growth(samples: list[Sample], role: str) -> float:
    """RSS growth in MB from the end of the first quarter (warm-up) to the end."""
    values = [s.rss_mb.get(role, float("nan")) for s in samples]
    return values[-1] - values[len(values) // 4] if len(values) >= 4 else float("nan")


def soak(
    duration_s: float, rate_rps: float | None = None, shards: int = 4, state_dir: Path | None = None
) -> dict[str, Any]:
    """Bring up the stack, (probe capacity,) soak, drain, verify; always brings the stack down."""
    local = LocalStack(state_dir or Path(tempfile.mkdtemp(prefix="cdrcap-soak-")))
    info = local.up(
        LocalStackConfig(
            shards=shards, port=two_free_ports(), max_retries=-1, max_record_age_s=-1, handler_env=HANDLER_ENV
        )
    )
    try:
        truth = new_truth()
        producer = Producer(info, truth)
        capacity_rps = None
        memory: dict[str, float] = {}
        if rate_rps is None:
            emulator_mb_before = rss_by_role(info)["emulator"]
            capacity_rps, _ = measure_capacity_rps(info, producer)
            wait_verified(info, truth)  # drain the probe's backlog before the soak starts
            rate_rps = LOAD_SHARE * capacity_rps
            grown_mb = rss_by_role(info)["emulator"] - emulator_mb_before
            memory = check_memory_fits(grown_mb, producer.offered, rate_rps, duration_s)
        samples = _drive(info, producer, rate_rps, duration_s)
        report, drain_s = wait_verified(info, truth)
    finally:
        local.down()
    thirds = max(len(samples) // 3, 1)
    ages_first = [s.iterator_age_max_ms for s in samples[:thirds]]
    ages_last = [s.iterator_age_max_ms for s in samples[-thirds:]]
    roles = sorted({role for s in samples for role in s.rss_mb})
    return {
        "duration_s": duration_s,
        "shards": shards,
        "capacity_rps": capacity_rps,
        "rate_rps": round(rate_rps, 1),
        "records_offered": producer.offered,
        "invariant_ok": report.ok,
        "invariant": report.to_dict(),
        "drain_s": round(drain_s, 1),
        "iterator_age_max_ms_first_third": max(ages_first, default=0.0),
        "iterator_age_max_ms_last_third": max(ages_last, default=0.0),
        "iterator_age_max_ms": max((s.iterator_age_max_ms for s in samples), default=0.0),
        "rss_mb_start": {r: round(samples[len(samples) // 4].rss_mb.get(r, float("nan")), 1) for r in roles},
        "rss_mb_end": {r: round(samples[-1].rss_mb.get(r, float("nan")), 1) for r in roles},
        "rss_growth_mb": {r: round(_growth(samples, r), 1) for r in roles},
        **memory,
        "samples": [s.__dict__ for s in samples],
    }


def run() -> dict[str, Any]:
    duration_s = float(os.environ.get("CDRCAP_SOAK_S", DEFAULT_SOAK_S))
    rate_text = os.environ.get("CDRCAP_SOAK_RPS")
    result = soak(
        duration_s, float(rate_text) if rate_text else None, int(os.environ.get("CDRCAP_SOAK_SHARDS", 4))
    )
    bounded = result["iterator_age_max_ms_last_third"] <= 2 * max(
        result["iterator_age_max_ms_first_third"], 1000.0
    )
    return {
        "title": f"Soak: real local stack at {LOAD_SHARE:.0%} of measured capacity for {duration_s:.0f} s",
        "metrics": [
            {
                "name": "measured capacity (probe)",
                "value": result["capacity_rps"] or float("nan"),
                "unit": "records/s",
            },
            {"name": "soak rate", "value": result["rate_rps"], "unit": "records/s"},
            {"name": "records offered", "value": float(result["records_offered"]), "unit": "records"},
            {
                "name": "invariant (exactly once) after drain",
                "value": float(result["invariant_ok"]),
                "unit": "1 = holds",
                "target": "1",
                "met": result["invariant_ok"],
            },
            {
                "name": "iterator age max, first third",
                "value": result["iterator_age_max_ms_first_third"],
                "unit": "ms",
            },
            {
                "name": "iterator age max, last third",
                "value": result["iterator_age_max_ms_last_third"],
                "unit": "ms",
                "target": "<= 2x first third (or 2 s)",
                "met": bounded,
            },
            *[
                {
                    "name": f"RSS growth {role}",
                    "value": growth,
                    "unit": "MB",
                    "target": "< 50 MB",
                    "met": growth < 50,
                }
                for role, growth in sorted(result["rss_growth_mb"].items())
                if role not in ("bench", "emulator")
            ],
            {  # the emulator holds the run's data (streams, table, archive): it grows by design
                "name": "RSS growth emulator (holds the data)",
                "value": result["rss_growth_mb"].get("emulator", float("nan")),
                "unit": "MB",
            },
        ],
        "rss_mb_start": result["rss_mb_start"],
        "rss_mb_end": result["rss_mb_end"],
        "drain_s": result["drain_s"],
    }


if __name__ == "__main__":
    # The full result, samples included: `python -m tests.benchmarks.bench_soak > soak.json`.
    rate = os.environ.get("CDRCAP_SOAK_RPS")
    duration = float(os.environ.get("CDRCAP_SOAK_S", DEFAULT_SOAK_S))
    print(json.dumps(soak(duration, float(rate) if rate else None), indent=1, default=str))
