"""`cdrcap load`: drive a CDR load (Locust, headless) at a target, or replay a CDR file; writes the
per-second measurements and summary into the run directory's data/."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from capacity.quotas import PUT_RECORDS_MAX_RECORDS, SHARD_WRITE_BYTES_PER_S, SHARD_WRITE_RECORDS_PER_S
from cdrcap.config import load_config
from cdrcap.errors import EXIT_OK, CdrcapError
from infra.aws import Target
from loadgen.keys import KEY_KINDS
from loadgen.kpl import AGGREGATIONS, DEFAULT_MAX_BUFFERED_MS, MAX_AGGREGATE_BYTES, check_aggregation
from loadgen.options import DEFAULT_SCHEMA_REGISTRY, format_weights
from loadgen.profiles import SHAPES


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", default="local", help="local, or a target of [tool.cdrcap.targets]")
    parser.add_argument("--config", type=Path, help="config file (default: cdrcap.toml or pyproject.toml)")
    parser.add_argument("--shape", choices=SHAPES, default="step")
    parser.add_argument("--rate", type=float, default=200.0, help="peak records/s")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--steps", type=int, default=4, help="steps (step shape) or bursts (burst shape)")
    parser.add_argument("--users", type=int, default=4, help="Locust users sharing the rate")
    parser.add_argument("--workers", type=int, default=0, help="Locust worker processes (0 = one process)")
    parser.add_argument("--stream", help="stream to write (default: the target's input stream)")
    parser.add_argument("--endpoint-url", help="local: the Kinesis endpoint (limits proxy or emulator)")
    parser.add_argument("--state-dir", type=Path, help="local: the stack's state dir (default .cdrcap/local)")
    parser.add_argument(
        "--shard-limit-scale",
        type=float,
        help="local: per-shard limits are AWS's x this, for the pre-run warning (default: the stack's)",
    )
    parser.add_argument("--partition-key", choices=KEY_KINDS, default="subscriber")
    parser.add_argument("--hot-share", type=float, default=0.2)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=PUT_RECORDS_MAX_RECORDS,
        help=f"max records per PutRecords call (<= {PUT_RECORDS_MAX_RECORDS})",
    )
    parser.add_argument(
        "--aggregation",
        choices=AGGREGATIONS,
        default="none",
        help="kpl: pack the CDRs bound for one shard into KPL aggregated records (docs/loadgen.md)",
    )
    parser.add_argument(
        "--max-buffered-ms",
        type=float,
        default=DEFAULT_MAX_BUFFERED_MS,
        help=f"kpl: a CDR waits at most this long to be sent (default {DEFAULT_MAX_BUFFERED_MS:g})",
    )
    parser.add_argument(
        "--aggregation-max-bytes",
        type=int,
        default=MAX_AGGREGATE_BYTES,
        help=f"kpl: size cap of one aggregated record (default {MAX_AGGREGATE_BYTES:,} B, the 1 MiB limit)",
    )
    parser.add_argument(
        "--formats",
        default="",
        help="record format mix, e.g. json-v2=0.6,csv-v2=0.2,avro=0.2,asterisk_cdr_csv=0.2: native formats "
        "(avro: Avro v2 in Glue Schema Registry framing), and VoIP switch layouts (pipeline/mappings; the "
        "stack needs them in InputMappings); default: the synth's mix",
    )
    parser.add_argument(
        "--schema-registry",
        default=DEFAULT_SCHEMA_REGISTRY,
        help="avro: the Glue Schema Registry holding the CDR schema (the stack's SchemaRegistryName output; "
        f"default {DEFAULT_SCHEMA_REGISTRY})",
    )
    parser.add_argument("--max-records", type=int, help="hard cap (default: 1.2 x what the shape asks)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--subscribers", type=int, default=200_000)
    parser.add_argument("--home-region", default="US", choices=("US", "DE", "IN"))
    parser.add_argument("--run-dir", type=Path, help="default: runs/<utc time>-load")
    parser.add_argument("--replay", type=Path, help="send this NDJSON/CSV CDR file instead of synthesising")
    parser.add_argument("--speed", type=float, default=1.0, help="replay speed-up (10 = ten times faster)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    format_weights(args.formats)  # a bad mix is named before anything starts
    from loadgen.targets import local_target

    shard_limits = None
    if args.target == "local":
        local = local_target(args.endpoint_url, args.stream, args.state_dir)
        target, stream = local.target, local.stream
        scale = args.shard_limit_scale or local.shard_limit_scale
        shard_limits = (SHARD_WRITE_RECORDS_PER_S * scale, SHARD_WRITE_BYTES_PER_S * scale)
    else:
        configured = load_config(args.config).target(args.target)
        target = Target(
            name=configured.name,
            region=configured.region,
            profile=configured.aws_profile,
            endpoint_url=configured.endpoint_url,
            is_local=configured.is_local,
            allowed_streams=configured.allowed_streams,
        )
        stream = args.stream or (target.allowed_streams[0] if target.allowed_streams else "")
    check_aggregation(args.aggregation, args.max_buffered_ms, args.aggregation_max_bytes)
    if args.replay and args.aggregation != "none":
        raise CdrcapError("--replay sends the file's records as they are; drop --aggregation")
    run_dir = args.run_dir or Path("runs") / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-load"
    if args.replay:
        summary = _replay(args, target, stream, run_dir)
    else:
        from loadgen.runner import run_load

        result = run_load(
            target, stream, args.shape, args.rate, args.duration, run_dir,
            users=args.users, workers=args.workers, steps=args.steps, max_records=args.max_records,
            partition_key=args.partition_key, hot_share=args.hot_share, batch_size=args.batch_size,
            seed=args.seed, subscribers=args.subscribers, home_region=args.home_region,
            shard_limits=shard_limits, aggregation=args.aggregation, max_buffered_ms=args.max_buffered_ms,
            aggregation_max_bytes=args.aggregation_max_bytes, formats=args.formats,
            schema_registry=args.schema_registry,
        )  # fmt: skip
        summary = result.summary
    totals = summary["totals"]
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        per_record = summary.get("cdrs_per_kinesis_record")
        aggregated = (
            f" in {totals.get('kinesis_records_accepted', 0):,} Kinesis records ({per_record:,.1f} CDRs each)"
            if per_record and per_record > 1
            else ""
        )
        print(
            f"run dir {run_dir}: offered {totals['offered']:,}, accepted {totals['accepted']:,}{aggregated}, "
            f"throttled {totals['throttled']:,} (retried {totals['retried']:,}), "
            f"failed {totals['failed']:,}, dropped {totals['dropped']:,}; "
            f"put latency p99 {summary['put_latency_ms']['p99']} ms"
        )
    return EXIT_OK


def _replay(args: argparse.Namespace, target: Target, stream: str, run_dir: Path) -> dict[str, Any]:
    from loadgen.producer import KinesisProducer
    from loadgen.replay import replay
    from loadgen.safety import ABSOLUTE_MAX_DURATION_S, ABSOLUTE_MAX_RECORDS, Caps

    producer = KinesisProducer(target, stream)
    caps = Caps(args.max_records or ABSOLUTE_MAX_RECORDS, ABSOLUTE_MAX_DURATION_S)
    recorder = replay(args.replay, producer, speed=args.speed, caps=caps, batch_size=args.batch_size)
    recorder.write(run_dir / "data", {"replay": {"file": str(args.replay), "speed": args.speed}})
    return recorder.summary()
