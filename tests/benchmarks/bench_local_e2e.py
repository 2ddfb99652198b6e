"""The local stack end to end with the REAL handler: the embedded-stack issue's "done when" as a benchmark.

`cdrcap up`'s stack (emulator + limits proxy + ESM runtime + pipeline.handler.handler, fraud rules on),
4 shards at scale 1, offered CDRCAP_E2E_RPS records/s (default 2,000; 2 % malformed) for CDRCAP_E2E_S
seconds (default 60) by a paced producer through the limits proxy, the load generated beforehand.
Measured: records/s processed while the load ran; how long after the load stopped every shard's iterator
age was back under 5 s (a trickle of 40 records/s keeps going after the load, as live traffic would, so
that invocations keep reporting an age); the invariant (every valid CDR counted exactly once in the
aggregates, archive and output; every malformed one in the DLQ once); that `down` left no process.
Runs twice, side by side: with the fraud stage and without it (no alert bus given to the handler);
CDRCAP_E2E_FRAUD=1 or 0 runs only one. Also reported: each process's CPU per record (emulator, proxy, ESM
runtime, its workers, this benchmark).

CDRCAP_E2E_BATCH (default 500) and CDRCAP_E2E_WINDOW_S (default 0) set the event source mapping. What the
planner would choose for this load: `cdrcap plan --rate 2000 --record-bytes 470 --service-time S`, with S
from 20,0.8 to 50,1.2 (ms per batch, ms per record: the fraud-on handler's range on this stack), recommends
batches of 1,000-5,000 with a 1-2 s window (PF 1-3 over 4-6 shards). Measured 2026-12-03 with the fraud
stage (docs/benchmarks.md, this section): batch 1,000 with a 2 s window processed no more than batch 500
without one on this CPU-bound stack (465 vs 698 records/s, one run each under a load average of 5-7), so
the defaults stay where the section's history was measured.
"""

from __future__ import annotations

import csv
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from infra.local.emulator import pid_alive
from infra.local.stack import LocalStack, LocalStackConfig
from pipeline import constants as c
from tests.benchmarks.bench_soak import HANDLER_ENV, PUT_BATCH, Producer, _drive, new_truth, wait_verified
from tests.support.local_stack import two_free_ports
from tests.support.pipeline_events import kinesis_event

LONG = True  # several minutes: `make bench-long`

SHARDS = 4
ITERATOR_AGE_TARGET_MS = 5_000.0
TRICKLE_PER_S = 40  # records/s of live traffic after the load (10 per shard)
RECOVERY_DEADLINE_S = 900.0


class PreparedProducer(Producer):
    """The soak's producer with the whole load generated (and added to the ground truth) before it starts,
    so that generating CDRs in Python does not cap the offered rate: only the paced PutRecords remain."""

    def prepare(self, records: int) -> None:
        self.batches: list[list[bytes]] = []
        positions = self.offered
        while positions < records:
            payloads = self.payloads(min(PUT_BATCH, records - positions))
            self.truth.add(kinesis_event(payloads, positions))
            self.batches.append(payloads)
            positions += len(payloads)

    def put(self, payloads: list[bytes]) -> None:
        self._put_counted(payloads)  # already in the truth

    def run(self, rate_rps: float, duration_s: float, stop: threading.Event) -> None:
        started, sent = time.monotonic(), 0
        for payloads in self.batches:
            # every prepared batch is sent (the truth holds them all); pacing makes that take duration_s
            while not stop.is_set() and int(rate_rps * (time.monotonic() - started)) < sent + len(payloads):
                time.sleep(0.005)
            if stop.is_set():
                return
            self.put(payloads)
            sent += len(payloads)


def trickle_until_recovered(producer: PreparedProducer, trace_path: Path, load_ended_ms: float) -> None:
    """After the load, keep a trickle of live traffic (as production would have) so that invocations keep
    reporting an iterator age once the backlog is drained; stop when every shard is back under 5 s."""
    deadline = time.monotonic() + RECOVERY_DEADLINE_S
    while time.monotonic() < deadline and recovery_s(trace_path, load_ended_ms) is None:
        Producer.put(producer, producer.payloads(TRICKLE_PER_S))  # into the truth as it goes
        time.sleep(1.0)


def recovery_s(trace_path: Path, load_ended_ms: float) -> float | None:
    """Seconds from the end of the load until every shard's iterator age was back under 5 s: per shard, the
    end of its first invocation started after the load with an iterator age under 5 s (0 for a shard that
    was already caught up at the end of the load); None when a shard never got there."""
    with trace_path.open(newline="") as trace:
        rows = sorted(csv.DictReader(trace), key=lambda r: float(r["start_epoch_ms"]))
    worst_s = 0.0
    for shard in sorted({r["shard_id"] for r in rows}):
        mine = [r for r in rows if r["shard_id"] == shard]
        before = [r for r in mine if float(r["start_epoch_ms"]) < load_ended_ms]
        after = [r for r in mine if float(r["start_epoch_ms"]) >= load_ended_ms]
        if (
            before
            and float(before[-1]["iterator_age_ms"]) < ITERATOR_AGE_TARGET_MS
            and (not after or float(after[0]["iterator_age_ms"]) < ITERATOR_AGE_TARGET_MS)
        ):
            continue
        first_ok = next((r for r in after if float(r["iterator_age_ms"]) < ITERATOR_AGE_TARGET_MS), None)
        if first_ok is None:
            return None
        worst_s = max(worst_s, (float(first_ok["end_epoch_ms"]) - load_ended_ms) / 1000)
    return worst_s


def cpu_s_by_role(info_pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each stack process; the ESM runtime's worker processes (the function
    invocations) as "workers", this benchmark process (producer, ground truth) as "bench"."""
    out: dict[str, float] = {}
    for role, pid in info_pids.items():
        try:
            process = psutil.Process(pid)
            times = process.cpu_times()
            out[role] = times.user + times.system
            if role == "esm":
                out["workers"] = sum(sum(w.cpu_times()[:2]) for w in process.children(recursive=True))
        except psutil.Error:
            out[role] = float("nan")
    bench = psutil.Process().cpu_times()
    out["bench"] = bench.user + bench.system
    return out


def end_to_end(
    rate_rps: float, duration_s: float, batch_size: int, batching_window_s: float, fraud: bool
) -> dict[str, Any]:
    local = LocalStack(Path(tempfile.mkdtemp(prefix="cdrcap-e2e-")))
    info = local.up(
        LocalStackConfig(
            shards=SHARDS,
            batch_size=batch_size,
            batching_window_s=batching_window_s,
            port=two_free_ports(),
            max_retries=-1,
            max_record_age_s=-1,
            handler_env={**HANDLER_ENV, **({} if fraud else {c.ENV_ALERT_BUS: ""})},
        )
    )
    pids = dict(info.pids)
    try:
        truth = new_truth()
        producer = PreparedProducer(info, truth)
        producer.prepare(int(rate_rps * duration_s))
        cpu_before = cpu_s_by_role(pids)
        samples = _drive(info, producer, rate_rps, duration_s)
        load_ended_ms = time.time() * 1000
        cpu_at_load_end = cpu_s_by_role(pids)
        trickle_until_recovered(producer, Path(info.trace_path), load_ended_ms)
        report, drain_s = wait_verified(info, truth)
        recovered_s = recovery_s(Path(info.trace_path), load_ended_ms)
        cpu_after = cpu_s_by_role(pids)
    finally:
        local.down()
    left_behind = sorted(name for name, pid in pids.items() if pid_alive(pid))
    during = [s for s in samples if s.elapsed_s <= duration_s]
    warm = [s for s in during if s.elapsed_s >= 10.0] or during
    processed_rps = (warm[-1].processed - warm[0].processed) / max(
        warm[-1].elapsed_s - warm[0].elapsed_s, 1e-9
    )
    processed_during = samples[-1].processed if samples else 0
    return {
        "rate_rps": rate_rps,
        "duration_s": duration_s,
        "batch_size": batch_size,
        "batching_window_s": batching_window_s,
        "fraud": fraud,
        "offered": samples[-1].offered,  # the load; the trickle after it is in "offered_with_trickle"
        "offered_rps": round(samples[-1].offered / max(samples[-1].elapsed_s, 1e-9), 1),
        "offered_with_trickle": producer.offered,
        "processed_rps_during_load": round(processed_rps, 1),
        "iterator_age_max_ms": max((s.iterator_age_max_ms for s in samples), default=0.0),
        "recovery_s": None if recovered_s is None else round(recovered_s, 1),
        "drain_and_verify_s": round(drain_s, 1),
        "invariant_ok": report.ok,
        "invariant": report.to_dict(),
        "left_behind": left_behind,
        # CPU ms per record offered, load + drain + verify (the bench's own share includes verifying)
        "cpu_ms_per_record": {
            role: round((cpu_after[role] - cpu_before[role]) * 1000 / max(producer.offered, 1), 3)
            for role in cpu_after
        },
        # the same while the load ran, per record processed meanwhile: what competed for the cores then
        # (the bench: paced PutRecords and trace reading; its verification comes after)
        "cpu_ms_per_record_during_load": {
            role: round((cpu_at_load_end[role] - cpu_before[role]) * 1000 / max(processed_during, 1), 3)
            for role in cpu_at_load_end
        },
    }


def _metrics(result: dict[str, Any], label: str) -> list[dict[str, Any]]:
    rate_rps = result["rate_rps"]
    recovered = result["recovery_s"] is not None
    cpu = result["cpu_ms_per_record"]
    return [
        {"name": f"{label}: records offered", "value": float(result["offered"]), "unit": "records"},
        {"name": f"{label}: offered rate", "value": result["offered_rps"], "unit": "records/s"},
        {
            "name": f"{label}: processed during the load (after 10 s warm-up)",
            "value": result["processed_rps_during_load"],
            "unit": "records/s",
            "target": f">= {rate_rps:,.0f}",
            "met": result["processed_rps_during_load"] >= 0.97 * rate_rps,
        },
        {
            "name": f"{label}: iterator age max during the load",
            "value": result["iterator_age_max_ms"],
            "unit": "ms",
        },
        {
            "name": f"{label}: iterator age back under 5 s, after the load stopped",
            "value": result["recovery_s"] if recovered else float("nan"),
            "unit": "s",
            "target": "reached",
            "met": recovered,
        },
        {
            "name": f"{label}: exactly once (aggregates, archive, output, DLQ) after drain",
            "value": float(result["invariant_ok"]),
            "unit": "1 = holds",
            "target": "1",
            "met": result["invariant_ok"],
        },
        {
            "name": f"{label}: processes left after down",
            "value": float(len(result["left_behind"])),
            "unit": "processes",
            "target": "0",
            "met": not result["left_behind"],
        },
        *[
            {"name": f"{label}: CPU per record, {role}", "value": value, "unit": "ms"}
            for role, value in sorted(cpu.items())
        ],
        *[
            {
                "name": f"{label}: CPU per record processed during the load, {role}",
                "value": value,
                "unit": "ms",
            }
            for role, value in sorted(result["cpu_ms_per_record_during_load"].items())
        ],
    ]


def run() -> dict[str, Any]:
    rate_rps = float(os.environ.get("CDRCAP_E2E_RPS", 2000))
    duration_s = float(os.environ.get("CDRCAP_E2E_S", 60))
    batch_size = int(os.environ.get("CDRCAP_E2E_BATCH", 500))
    batching_window_s = float(os.environ.get("CDRCAP_E2E_WINDOW_S", 0))
    modes = {"1": (True,), "0": (False,)}.get(os.environ.get("CDRCAP_E2E_FRAUD", ""), (True, False))
    results = {
        fraud: end_to_end(rate_rps, duration_s, batch_size, batching_window_s, fraud) for fraud in modes
    }
    return {
        "title": (
            f"Local stack end to end, real handler: {rate_rps:,.0f} records/s offered for {duration_s:.0f} s "
            f"through {SHARDS} shards, batch {batch_size}, window {batching_window_s:g} s, "
            "fraud stage on and off"
        ),
        "metrics": [
            metric
            for fraud, result in results.items()
            for metric in _metrics(result, "fraud on" if fraud else "fraud off")
        ],
        "notes": "; ".join(
            f"fraud {'on' if fraud else 'off'} invariant: "
            + ", ".join(
                f"{c['name']} {c['observed_distinct']}/{c['expected']}" for c in r["invariant"]["checks"]
            )
            for fraud, r in results.items()
        ),
    }
