"""`run_load(...)`: the Python API the orchestrator calls. Runs Locust headless in subprocesses (a master and
N workers, or one local process), bounded in time and records, and returns what it measured.

This module must not import locust: locust monkey-patches the process (gevent) on import.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capacity.quotas import SHARD_WRITE_BYTES_PER_S, SHARD_WRITE_RECORDS_PER_S
from infra.aws import Target, client
from loadgen.cost import estimate_run_cost
from loadgen.errors import LoadgenError
from loadgen.keys import KeyStrategy, open_shards, overloaded, predict_shard_load
from loadgen.measure import SECONDS_FILE, SUMMARY_FILE
from loadgen.options import format_weights
from loadgen.profiles import RateProfile
from loadgen.safety import ABSOLUTE_MAX_RECORDS, Caps, check_stream_allowed
from loadgen.synth import CdrSynthesizer, SynthConfig
from loadgen.synth.labels import LABELS_DIR, LABELS_FILE
from pipeline.avro_cdr import AvroEncoder

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
STARTUP_GRACE_S = 30.0  # imports, population build, worker connection
SAMPLE_RECORDS = 5_000  # records synthesised to predict the per-shard load


@dataclass(frozen=True)
class LoadResult:
    run_dir: Path
    seconds_path: Path
    summary_path: Path
    summary: dict[str, Any]
    returncode: int
    warnings: list[str] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        return dict(self.summary.get("totals", {}))


def preflight(
    target: Target,
    stream_name: str,
    profile: RateProfile,
    *,
    key_strategy: KeyStrategy,
    synth: SynthConfig,
    shard_limits: tuple[float, float] | None = None,
    kinesis: Any = None,
    aggregated: bool = False,
) -> tuple[list[str], list[str]]:
    """(warnings, notes) before a run: shards predicted over their write limits, and the cost estimate.
    `aggregated` (KPL): CDRs share Kinesis records, so only the bytes limit is predicted per shard."""
    kinesis = kinesis if kinesis is not None else client(target, "kinesis", retries=2)
    shards = open_shards(kinesis, stream_name)
    # An Avro share is sized with a placeholder schema version id: the same bytes as the registered one.
    encoder = AvroEncoder(uuid.UUID(int=0), version=2) if synth.avro_share > 0 else None
    sample = CdrSynthesizer(
        synth, seed=12_345, key_strategy=key_strategy, avro_encoder=encoder
    ).batch_with_keys(SAMPLE_RECORDS)
    sizes = [len(p) for p in sample.payloads]
    loads = predict_shard_load(sample.partition_keys, sizes, shards, profile.rate_rps)
    max_records, max_bytes = shard_limits or (SHARD_WRITE_RECORDS_PER_S, SHARD_WRITE_BYTES_PER_S)
    warnings = overloaded(loads, math.inf if aggregated else max_records, max_bytes)
    notes = [
        f"{len(shards)} open shard(s); peak {profile.rate_rps:,.0f} records/s predicted as "
        + ", ".join(f"{load.shard_id[-4:]}: {load.records_per_s:,.0f}/s" for load in loads)
    ]
    if not target.is_local:
        mean_bytes = sum(sizes) / len(sizes)
        notes.append(
            estimate_run_cost(
                profile.expected_records(), mean_bytes, profile.duration_s, len(shards)
            ).describe(len(shards))
        )
    return warnings, notes


def locust_args(
    target: Target,
    stream_name: str,
    profile: RateProfile,
    run_dir: Path,
    *,
    users: int,
    options: dict[str, Any],
) -> list[str]:
    """The --cdr-* options of a run (shared by master and workers)."""
    args = [
        "--cdr-rate", str(profile.rate_rps),
        "--cdr-shape", profile.shape,
        "--cdr-duration", str(profile.duration_s),
        "--cdr-steps", str(profile.steps),
        "--cdr-users", str(users),
        "--cdr-target-stream", stream_name,
        "--cdr-allowed-streams", ",".join(target.allowed_streams),
        "--cdr-endpoint", target.resolved_endpoint("kinesis") or "",
        "--cdr-region", target.region,
        "--cdr-run-dir", str(run_dir),
    ]  # fmt: skip
    if target.profile:
        args += ["--cdr-aws-profile", target.profile]
    if target.glue_endpoint_url:
        args += ["--cdr-glue-endpoint", target.glue_endpoint_url]
    for name, value in options.items():
        args += ["--cdr-" + name.replace("_", "-"), str(value)]
    return args


def _spawn(command: list[str], log_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,  # its own process group: stopped by our PID, never by name
        )  # fmt: skip


def _stop(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout_s)


def merge_labels(run_dir: Path) -> Path | None:
    """Concatenate the per-process label files into `<run_dir>/labels.csv` (one header)."""
    parts = sorted((run_dir / LABELS_DIR).glob("labels-*.csv"))
    if not parts:
        return None
    target = run_dir / LABELS_FILE
    with target.open("w", encoding="utf-8") as out:
        for index, part in enumerate(parts):
            lines = part.read_text(encoding="utf-8").splitlines(keepends=True)
            out.writelines(lines if index == 0 else lines[1:])
    return target


def run_load(
    target: Target,
    stream_name: str,
    shape: str,
    rate_rps: float,
    duration_s: float,
    run_dir: Path,
    *,
    users: int = 4,
    workers: int = 0,
    steps: int = 4,
    max_records: int | None = None,
    partition_key: str = "subscriber",
    hot_share: float = 0.2,
    shard_limits: tuple[float, float] | None = None,
    echo: Callable[[str], None] = print,
    **options: Any,
) -> LoadResult:
    """Drive `shape` at up to `rate_rps` records/s for `duration_s` into `stream_name`; stops by itself.

    `options` are further --cdr-* options (batch_size, max_attempts, seed, subscribers, home_region,
    fraud_scale, defect_scale, aggregation, max_buffered_ms, aggregation_max_bytes). Raises LoadgenError
    before sending anything if the stream is not allowed.
    """
    check_stream_allowed(target, stream_name)
    profile = RateProfile(shape, rate_rps, duration_s, steps)
    cap = max_records or min(int(profile.expected_records() * 1.2) + 1_000, ABSOLUTE_MAX_RECORDS)
    Caps(cap, duration_s)
    key_strategy = KeyStrategy(partition_key, hot_share)
    synth = SynthConfig(
        subscribers=int(options.get("subscribers", 200_000)),
        home_region=options.get("home_region", "US"),
        **format_weights(str(options.get("formats", ""))),  # the run's mix: Avro and CSV are smaller
    )
    warnings, notes = preflight(
        target, stream_name, profile, key_strategy=key_strategy, synth=synth, shard_limits=shard_limits,
        aggregated=options.get("aggregation", "none") != "none",
    )  # fmt: skip
    for line in notes:
        echo(line)
    for line in warnings:
        echo(f"WARNING: {line}")
    run_dir.mkdir(parents=True, exist_ok=True)
    data_dir = run_dir / "data"
    data_dir.mkdir(exist_ok=True)
    cdr_args = locust_args(
        target, stream_name, profile, run_dir, users=users,
        options={"max_records": cap, "partition_key": partition_key, "hot_share": hot_share, **options},
    )  # fmt: skip
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--loglevel", "INFO"]
    env = dict(os.environ)
    if target.is_local or target.emulator:
        env.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    limit_s = int(duration_s) + 5
    main = [
        *base,
        "--headless", "-u", str(users), "-r", str(users), "-t", f"{limit_s}s", "--stop-timeout", "5",
        "--csv", str(data_dir / "locust"), "--only-summary", *cdr_args,
    ]  # fmt: skip
    processes: list[subprocess.Popen[bytes]] = []
    if workers:
        from infra.local.emulator import free_port

        port = free_port()
        main += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                 "--expect-workers", str(workers)]  # fmt: skip
    processes.append(_spawn(main, run_dir / "locust-master.log", env))
    for index in range(workers):
        worker = [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port), *cdr_args]
        processes.append(_spawn(worker, run_dir / f"locust-worker-{index}.log", env))
    deadline = time.monotonic() + duration_s + STARTUP_GRACE_S + 30
    try:
        returncode = processes[0].wait(timeout=max(deadline - time.monotonic(), 1))
    except subprocess.TimeoutExpired:
        warnings.append(f"Locust did not stop within {duration_s + STARTUP_GRACE_S + 30:.0f} s; stopped it")
        returncode = -1
    finally:
        for process in processes:
            _stop(process)
    merge_labels(run_dir)
    summary_path = data_dir / SUMMARY_FILE
    if not summary_path.exists():
        raise LoadgenError(f"the load run wrote no {summary_path}; see {run_dir}/locust-master.log")
    summary = json.loads(summary_path.read_text())
    return LoadResult(run_dir, data_dir / SECONDS_FILE, summary_path, summary, returncode, warnings)
