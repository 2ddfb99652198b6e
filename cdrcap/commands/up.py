"""`cdrcap up`: start the embedded local stack (emulator, pipeline resources, limits proxy, ESM runtime)."""

from __future__ import annotations

import argparse
from pathlib import Path

from capacity import quotas as q
from cdrcap.errors import EXIT_OK, CdrcapError
from infra.local.esm.config import CONSUMER_MODES
from infra.local.stack import DEFAULT_PORT, DEFAULT_STATE_DIR, LocalStack, LocalStackConfig
from pipeline.constants import EXACTLY_ONCE_DESIGNS

DEFAULTS = LocalStackConfig()
# The event source mapping's settings and the shard-limit scale; the help shows what AWS accepts.
_MAPPING_FLAGS: tuple[tuple[str, type, float, str], ...] = (
    ("--batch-size", int, DEFAULTS.batch_size, f"{q.ESM_BATCH_SIZE_MIN}-{q.ESM_BATCH_SIZE_MAX:,} records"),
    (
        "--batching-window-s",
        float,
        DEFAULTS.batching_window_s,
        f"{q.ESM_BATCHING_WINDOW_S_MIN}-{q.ESM_BATCHING_WINDOW_S_MAX} s",
    ),
    (
        "--parallelization-factor",
        int,
        DEFAULTS.parallelization_factor,
        f"{q.ESM_PARALLELIZATION_FACTOR_MIN}-{q.ESM_PARALLELIZATION_FACTOR_MAX}",
    ),
    ("--max-retries", int, DEFAULTS.max_retries, f"-1 (infinite) to {q.ESM_MAX_RETRY_ATTEMPTS_MAX:,}"),
    (
        "--max-record-age-s",
        int,
        DEFAULTS.max_record_age_s,
        f"-1 or {q.ESM_MAX_RECORD_AGE_S_MIN}-{q.ESM_MAX_RECORD_AGE_S_MAX:,}",
    ),
    (
        "--scale",
        float,
        DEFAULTS.scale,
        f"shard limits x this (0.1 = {0.1 * q.SHARD_WRITE_RECORDS_PER_S:g} rec/s)",
    ),
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shards", type=int, default=DEFAULTS.shards, help="input stream shards")
    for flag, kind, default, help_text in _MAPPING_FLAGS:
        parser.add_argument(flag, type=kind, default=default, help=help_text)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="emulator port; the proxy uses port+1")
    parser.add_argument("--concurrency-limit", type=int, default=DEFAULTS.concurrency_limit)
    parser.add_argument("--handler", default=DEFAULTS.handler, help="dotted path of the handler to invoke")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument(
        "--consumer-mode",
        choices=CONSUMER_MODES,
        default=DEFAULTS.consumer_mode,
        help="shared: GetRecords polling; efo: enhanced fan-out (a stream consumer + SubscribeToShard)",
    )
    parser.add_argument(
        "--other-consumers",
        type=int,
        default=DEFAULTS.other_consumers,
        help="extra polling consumers reading every shard (shared-throughput read contention)",
    )
    parser.add_argument(
        "--memory-mb", type=int, default=DEFAULTS.memory_mb, help="the function's memory (128-10,240 MB)"
    )
    parser.add_argument(
        "--exactly-once",
        choices=EXACTLY_ONCE_DESIGNS,
        default=DEFAULTS.exactly_once,
        help="the template's ExactlyOnceDesign (CDRCAP_EXACTLY_ONCE): per_record, folded or ledger "
        "(docs/pipeline.md)",
    )
    parser.add_argument(
        "--lambda-cpu",
        action="store_true",
        help="give each worker Lambda's CPU share of --memory-mb (memory / 1,769 MB of a core, docs/local.md)"
        "; off: workers take what the host gives",
    )
    parser.set_defaults(func=run)


def config_from(args: argparse.Namespace) -> LocalStackConfig:
    if args.shards < 1:
        raise CdrcapError(f"--shards {args.shards}: give at least 1")
    if args.scale <= 0:
        raise CdrcapError(
            f"--scale {args.scale}: give a positive factor, e.g. 0.1 for 100 records/s per shard"
        )
    if not q.LAMBDA_MEMORY_MB_MIN <= args.memory_mb <= q.LAMBDA_MEMORY_MB_MAX:
        raise CdrcapError(
            f"--memory-mb {args.memory_mb}: Lambda takes "
            f"{q.LAMBDA_MEMORY_MB_MIN}-{q.LAMBDA_MEMORY_MB_MAX:,} MB"
        )
    return LocalStackConfig(
        shards=args.shards,
        batch_size=args.batch_size,
        batching_window_s=args.batching_window_s,
        parallelization_factor=args.parallelization_factor,
        max_retries=args.max_retries,
        max_record_age_s=args.max_record_age_s,
        scale=args.scale,
        port=args.port,
        concurrency_limit=args.concurrency_limit,
        handler=args.handler,
        consumer_mode=args.consumer_mode,
        other_consumers=args.other_consumers,
        memory_mb=args.memory_mb,
        cpu_share_of_memory=args.lambda_cpu,
        exactly_once=args.exactly_once,
    )


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    info = LocalStack(args.state_dir).up(config)
    print(f"local stack up: emulator {info.endpoint_url}, Kinesis (limits proxy) {info.kinesis_endpoint_url}")
    print(
        f"  input stream {info.input_stream_name} ({config.shards} shards, scale {config.scale}), "
        f"consumer mode {config.consumer_mode}, {config.other_consumers} other consumers"
    )
    print(f"  Glue Schema Registry (Avro CDRs) {info.glue_endpoint_url}")
    print(f"  trace {info.trace_path}; `cdrcap status --json` for every resource; `cdrcap down` to stop")
    return EXIT_OK
