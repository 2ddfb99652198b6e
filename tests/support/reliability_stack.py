"""Helpers for reliability runs on the real local stack (emulator + limits proxy + ESM runtime + handler):
a known load and its ground truth, putting it through the proxy, chaos on the stack's processes, and
waiting until `cdrcap verify`'s invariant holds.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from capacity.quotas import PUT_RECORDS_MAX_RECORDS
from cdrcap.observe import Resources, observe_target
from cdrcap.truth import GroundTruth, truth_of_events
from cdrcap.verify import VerifyReport, check
from infra.aws import client
from infra.local import processes
from infra.local.faults import ENV_FAULT_INJECTION, ENV_FAULTS, ENV_FAULTS_SEED
from infra.local.stack import LocalStack, LocalStackConfig, StackInfo
from pipeline import constants as c
from pipeline.config import load_config
from pipeline.schema import ReasonCode
from tests.corpus.malformed import cases
from tests.support.local_stack import two_free_ports
from tests.support.pipeline_events import as_csv, as_json, as_kpl, kinesis_event, make_cdr

# The unit fixtures are dated 2026-11-18: wide time windows let them through whatever today is, and a
# long TTL keeps their minute buckets from expiring (the emulator really deletes expired items).
HANDLER_TIME_ENV = {
    c.ENV_MAX_RECORD_AGE_DAYS: "3650",
    c.ENV_MAX_CLOCK_SKEW_S: str(10 * 365 * 86400),
    c.ENV_AGGREGATE_TTL_S: str(10 * 365 * 86400),
}
# Every handler fault at once (infra/local/faults.py), at rates a few hundred records are sure to fire.
EVERY_FAULT = (
    "crash_before_apply:0.05,crash_after_apply:0.05,crash_before_emit:0.05,crash_after_emit:0.05,"
    "timeout:0.02,dynamo_throttle:0.05,output_throttle:0.05,s3_error:0.05,dlq_error:0.05"
)
# Corpus cases whose verdict depends on the clock: under the wide windows above they become valid.
CLOCK_DEPENDENT = {ReasonCode.TIMESTAMP_IN_FUTURE, ReasonCode.TIMESTAMP_TOO_OLD}


@contextmanager
def faulty_stack(state_dir: Path, seed: int, **config: Any) -> Iterator[tuple[LocalStack, StackInfo]]:
    """A local stack (2 shards, 50-record batches, retried until it works, `config` on top) whose handler
    has EVERY_FAULT injected with `seed`, taken down at the end."""
    local = LocalStack(state_dir)
    info = local.up(
        LocalStackConfig(
            shards=2,
            batch_size=50,
            port=two_free_ports(),
            max_retries=-1,  # retry until it works: a discarded batch would be a loss, not a fault tolerated
            max_record_age_s=-1,
            concurrency_limit=4,
            handler_env={
                **HANDLER_TIME_ENV,
                ENV_FAULT_INJECTION: "1",
                ENV_FAULTS: EVERY_FAULT,
                ENV_FAULTS_SEED: str(seed),
            },
            **config,
        )
    )
    try:
        yield local, info
    finally:
        if local.status() is not None:
            local.down()


def known_load(goods: int, *, first: int = 0, with_bad: bool = True) -> list[bytes]:
    """Distinct good CDRs (JSON v1/v2, CSV, KPL of 4) and, optionally, the malformed corpus; no duplicates,
    so the truth does not depend on the order shards are consumed in."""
    payloads: list[bytes] = []
    i = first
    while i < first + goods:
        kind = i % 5
        if kind == 4:
            payloads.append(as_kpl([as_json(make_cdr(i + j)) for j in range(4)], f"agg{i}"))
            i += 4
            continue
        payloads.append(as_csv(make_cdr(i), 2) if kind == 3 else as_json(make_cdr(i), 1 + kind % 2))
        i += 1
    if with_bad:
        # Kinesis refuses empty data, and a base64 defect cannot be produced through PutRecords.
        payloads += [
            case.payload
            for case in cases()
            if case.payload and case.raw_data is None and case.reason not in CLOCK_DEPENDENT
        ]
    random.Random(goods).shuffle(payloads)
    return payloads


def truth_of(payloads: list[bytes], info: StackInfo) -> GroundTruth:
    env = {**info.config.handler_env, c.ENV_OUTPUT_STREAM: "o", c.ENV_AGGREGATES_TABLE: "t"}
    env |= {c.ENV_ARCHIVE_BUCKET: "b", c.ENV_DLQ_URL: "q", c.ENV_HOME_REGION: info.config.home_region}
    return truth_of_events([kinesis_event(payloads)], load_config(env), int(time.time() * 1000))


def put_all(
    info: StackInfo, payloads: list[bytes], deadline_s: float = 120.0, keys: list[str] | None = None
) -> None:
    """PutRecords through the limits proxy (partition keys `keys`, default one per record), re-putting
    throttled records until all are accepted."""
    kinesis = client(info.target(), "kinesis")  # through the limits proxy
    keys = keys or [f"pk-{k}" for k in range(len(payloads))]
    pending = [{"PartitionKey": key, "Data": p} for key, p in zip(keys, payloads, strict=True)]
    end = time.monotonic() + deadline_s
    while pending:
        assert time.monotonic() < end, f"{len(pending)} records still throttled"
        batch, pending = pending[:PUT_RECORDS_MAX_RECORDS], pending[PUT_RECORDS_MAX_RECORDS:]
        response = kinesis.put_records(StreamName=info.input_stream_name, Records=batch)
        failed = [r for r, result in zip(batch, response["Records"], strict=True) if "ErrorCode" in result]
        if failed:
            pending = failed + pending
            time.sleep(0.2)


def resources(info: StackInfo) -> Resources:
    return Resources(info.aggregates_table, info.archive_bucket, info.dlq_url, info.output_stream_name)


def wait_until_verified(info: StackInfo, truth: GroundTruth, deadline_s: float = 180.0) -> VerifyReport:
    """Poll the stores until the invariant holds (the pipeline drained) or the deadline passes."""
    end = time.monotonic() + deadline_s
    while True:
        report = check(truth, observe_target(info.target(), resources(info)))
        if report.ok or time.monotonic() > end:
            return report
        time.sleep(1.0)


def kill_esm(info: StackInfo) -> None:
    """SIGKILL the ESM runtime and its workers (its own process group): no chance to save anything."""
    os.killpg(info.pids["esm"], signal.SIGKILL)


def restart_esm(local: LocalStack) -> StackInfo:
    """Start the ESM runtime again on the same state dir (it resumes from its checkpoints)."""
    info = local.status()
    assert info is not None
    state_dir = Path(info.state_dir)
    pid = processes.spawn_module(
        "infra.local.esm",
        ["--config", str(state_dir / "esm.json")],
        log_path=state_dir / "logs" / "esm-runtime.log",
    )
    document: dict[str, Any] = info.to_dict()
    document["pids"] = {**info.pids, "esm": pid}
    local.state_path.write_text(json.dumps(document, indent=1))  # so `down` stops the new one
    return StackInfo.from_dict(document)


def pause_emulator(info: StackInfo, pause_s: float) -> None:
    """The emulator unavailable for `pause_s` (SIGSTOP/SIGCONT: an outage with its state kept)."""
    os.kill(info.pids["emulator"], signal.SIGSTOP)
    try:
        time.sleep(pause_s)
    finally:
        os.kill(info.pids["emulator"], signal.SIGCONT)


def failed_invocations(info: StackInfo) -> int:
    """Invocations of the trace whose outcome was not ok (error, partial, timeout)."""
    with open(info.trace_path, newline="") as trace:
        return sum(row["outcome"] != "ok" for row in csv.DictReader(trace))
