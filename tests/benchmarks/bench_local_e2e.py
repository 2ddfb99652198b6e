"""The local stack end to end with the REAL handler: the embedded-stack issue's "done when" as a benchmark.

`cdrcap up`'s stack (emulator + limits proxy + ESM runtime + pipeline.handler.handler, fraud rules on),
4 shards at scale 1, offered CDRCAP_E2E_RPS records/s (default 2,000; 2 % malformed) for CDRCAP_E2E_S
seconds (default 60) by a paced producer through the limits proxy. Measured: records/s processed while the
load ran, how long after the load stopped the iterator age was back under 5 s, the invariant (every valid
CDR counted exactly once in the aggregates, archive and output; every malformed one in the DLQ once), and
that `down` left no process. Set CDRCAP_E2E_BATCH for the batch size (default 500) and
CDRCAP_E2E_FRAUD=0 to run the pipeline without the fraud stage (no alert bus given to the handler).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from cdrcap.truth import TruthBuilder
from infra.local.emulator import pid_alive
from infra.local.stack import LocalStack, LocalStackConfig
from pipeline import constants as c
from pipeline.config import load_config
from tests.benchmarks.bench_soak import HANDLER_ENV, Producer, TraceTail, _drive, wait_verified
from tests.functional.test_local_stack import two_free_ports

LONG = True  # several minutes: `make bench-long`

SHARDS = 4
ITERATOR_AGE_TARGET_MS = 5_000.0
RECOVERY_DEADLINE_S = 600.0


def _recovery_s(tail: TraceTail, load_ended_at: float) -> float | None:
    """Seconds after the load stopped until an invocation reported an iterator age under 5 s again."""
    while time.monotonic() - load_ended_at < RECOVERY_DEADLINE_S:
        _, ages = tail.read()
        if ages and min(ages) < ITERATOR_AGE_TARGET_MS and ages[-1] < ITERATOR_AGE_TARGET_MS:
            return time.monotonic() - load_ended_at
        time.sleep(0.5)
    return None


def end_to_end(rate_rps: float, duration_s: float, batch_size: int, fraud: bool) -> dict[str, Any]:
    local = LocalStack(Path(tempfile.mkdtemp(prefix="cdrcap-e2e-")))
    info = local.up(
        LocalStackConfig(
            shards=SHARDS,
            batch_size=batch_size,
            port=two_free_ports(),
            max_retries=-1,
            max_record_age_s=-1,
            handler_env={**HANDLER_ENV, **({} if fraud else {c.ENV_ALERT_BUS: ""})},
        )
    )
    pids = dict(info.pids)
    try:
        env = {
            **HANDLER_ENV,
            c.ENV_OUTPUT_STREAM: "o",
            c.ENV_AGGREGATES_TABLE: "t",
            c.ENV_ARCHIVE_BUCKET: "b",
        }
        truth = TruthBuilder(load_config({**env, c.ENV_DLQ_URL: "q"}), int(time.time() * 1000))
        producer = Producer(info, truth)
        samples = _drive(info, producer, rate_rps, duration_s)
        load_ended_at = time.monotonic()
        tail = TraceTail(Path(info.trace_path))
        tail.offset = 0
        recovery_s = _recovery_s(tail, load_ended_at)
        report, drain_s = wait_verified(info, truth)
    finally:
        local.down()
    left_behind = sorted(name for name, pid in pids.items() if pid_alive(pid))
    during = [s for s in samples if s.elapsed_s <= duration_s]
    warm = [s for s in during if s.elapsed_s >= 10.0] or during
    processed_rps = (warm[-1].processed - warm[0].processed) / max(
        warm[-1].elapsed_s - warm[0].elapsed_s, 1e-9
    )
    return {
        "rate_rps": rate_rps,
        "duration_s": duration_s,
        "batch_size": batch_size,
        "fraud": fraud,
        "offered": producer.offered,
        "offered_rps": round(producer.offered / max(samples[-1].elapsed_s, 1e-9), 1),
        "processed_rps_during_load": round(processed_rps, 1),
        "iterator_age_max_ms": max((s.iterator_age_max_ms for s in samples), default=0.0),
        "recovery_s": None if recovery_s is None else round(recovery_s, 1),
        "drain_and_verify_s": round(drain_s, 1),
        "invariant_ok": report.ok,
        "invariant": report.to_dict(),
        "left_behind": left_behind,
    }


def run() -> dict[str, Any]:
    rate_rps = float(os.environ.get("CDRCAP_E2E_RPS", 2000))
    duration_s = float(os.environ.get("CDRCAP_E2E_S", 60))
    batch_size = int(os.environ.get("CDRCAP_E2E_BATCH", 500))
    fraud = os.environ.get("CDRCAP_E2E_FRAUD", "1") != "0"
    result = end_to_end(rate_rps, duration_s, batch_size, fraud)
    recovered = result["recovery_s"] is not None
    return {
        "title": (
            f"Local stack end to end, real handler (fraud {'on' if fraud else 'off'}): "
            f"{rate_rps:,.0f} records/s offered for {duration_s:.0f} s "
            f"through {SHARDS} shards, batch {batch_size}"
        ),
        "metrics": [
            {"name": "records offered", "value": float(result["offered"]), "unit": "records"},
            {"name": "offered rate", "value": result["offered_rps"], "unit": "records/s"},
            {
                "name": "processed during the load (after 10 s warm-up)",
                "value": result["processed_rps_during_load"],
                "unit": "records/s",
                "target": f">= {rate_rps:,.0f}",
                "met": result["processed_rps_during_load"] >= 0.97 * rate_rps,
            },
            {
                "name": "iterator age max during the load",
                "value": result["iterator_age_max_ms"],
                "unit": "ms",
            },
            {
                "name": "iterator age back under 5 s, after the load stopped",
                "value": result["recovery_s"] if recovered else float("nan"),
                "unit": "s",
                "target": "reached",
                "met": recovered,
            },
            {
                "name": "exactly once (aggregates, archive, output, DLQ) after drain",
                "value": float(result["invariant_ok"]),
                "unit": "1 = holds",
                "target": "1",
                "met": result["invariant_ok"],
            },
            {
                "name": "processes left after down",
                "value": float(len(result["left_behind"])),
                "unit": "processes",
                "target": "0",
                "met": not result["left_behind"],
            },
        ],
        "notes": f"invariant: {result['invariant']}"[:600],
    }
