"""The load options, one definition for Locust's parser (CLI, LOCUST_CDR_* env vars, config files) and
for `run_load`, which turns its keyword arguments into the same command line."""

from __future__ import annotations

import ipaddress
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from capacity.quotas import PUT_RECORDS_MAX_RECORDS
from infra.aws import Target
from loadgen.errors import LoadConfigError
from loadgen.keys import KeyStrategy
from loadgen.kpl import (
    DEFAULT_MAX_BUFFERED_MS,
    MAX_AGGREGATE_BYTES,
    MIN_AGGREGATE_BYTES,
    check_aggregation,
)
from loadgen.profiles import RateProfile
from loadgen.safety import Caps
from loadgen.synth.config import AVRO_FORMAT, FORMATS, RECORD_FORMATS, DefectRates, FraudRates, SynthConfig
from pipeline.constants import DEFAULT_STACK_NAME, SCHEMA_REGISTRY_SUFFIX, resource_name
from pipeline.mapping_spec import shipped_mapping_names

DEFAULT_SCHEMA_REGISTRY = resource_name(DEFAULT_STACK_NAME, SCHEMA_REGISTRY_SUFFIX)


def is_loopback_url(url: str) -> bool:
    """True only when the URL's host IS loopback: a prefix test would take http://localhost.evil.example
    or http://127.0.0.1.nip.io (a remote host) for the emulator and open the stream allow-list to it."""
    try:
        parsed = urllib.parse.urlsplit(url)
        host = parsed.hostname
        parsed.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError:
        return False
    if parsed.scheme not in ("http", "https") or host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# (flag, type, default, help). Env var: LOCUST_ + upper snake case; config file key: the flag without --.
OPTIONS: tuple[tuple[str, type, Any, str], ...] = (
    ("--cdr-rate", float, 100.0, "target records/s of the whole test (all users and workers together)"),
    ("--cdr-shape", str, "steady", "load shape: steady, step, ramp, diurnal, burst, soak"),
    ("--cdr-duration", float, 60.0, "seconds the shape runs (the test stops by itself after it)"),
    ("--cdr-steps", int, 4, "number of steps (step shape) or bursts (burst shape)"),
    ("--cdr-users", int, 4, "users the shape keeps running; each sends rate/users records/s"),
    ("--cdr-target-stream", str, "cdrcap-cdr-in", "Kinesis stream to write to (must be allowed)"),
    (
        "--cdr-allowed-streams",
        str,
        "",
        "comma-separated streams this run may write; local: the target stream",
    ),
    ("--cdr-endpoint", str, "", "Kinesis endpoint URL (the local limits proxy or emulator); empty = AWS"),
    ("--cdr-region", str, "us-east-1", "AWS region"),
    ("--cdr-aws-profile", str, "", "AWS credentials profile (non-local targets)"),
    ("--cdr-partition-key", str, "subscriber", "partition key strategy: subscriber, cell, random, hot"),
    ("--cdr-hot-share", float, 0.2, "share of records on the hot key (strategy hot)"),
    (
        "--cdr-batch-size",
        int,
        PUT_RECORDS_MAX_RECORDS,
        f"max records per PutRecords call (<= {PUT_RECORDS_MAX_RECORDS})",
    ),
    ("--cdr-max-records", int, 1_000_000, "hard cap on records offered by the whole test"),
    ("--cdr-max-attempts", int, 5, "PutRecords attempts per record, first send included"),
    ("--cdr-transport", str, "fast", "PutRecords transport: fast (signed by loadgen) or boto3"),
    (
        "--cdr-aggregation",
        str,
        "none",
        "none, or kpl: pack the CDRs bound for one shard into KPL aggregated records",
    ),
    ("--cdr-max-buffered-ms", float, DEFAULT_MAX_BUFFERED_MS, "kpl: CDRs wait at most this long to be sent"),
    (
        "--cdr-aggregation-max-bytes",
        int,
        MAX_AGGREGATE_BYTES,
        f"kpl: size cap of one aggregated record ({MIN_AGGREGATE_BYTES}..{MAX_AGGREGATE_BYTES} B)",
    ),
    ("--cdr-run-dir", str, "", "run directory (data/ and labels go there); default runs/load-<utc time>"),
    ("--cdr-seed", int, 1, "synthesis seed (each worker derives its own)"),
    ("--cdr-subscribers", int, 200_000, "subscriber population size"),
    ("--cdr-home-region", str, "US", "home numbering plan: US, DE, IN"),
    ("--cdr-fraud-scale", float, 1.0, "multiplier of the default fraud scenario rates (0 = none)"),
    ("--cdr-defect-scale", float, 1.0, "multiplier of the default defect rates (0 = none)"),
    ("--cdr-formats", str, "", "record format mix, e.g. json-v2=0.6,json-v1=0.2,avro=0.2; empty = default"),
    (
        "--cdr-glue-endpoint",
        str,
        "",
        "avro: Glue Schema Registry endpoint URL; empty = AWS (or AWS_ENDPOINT_URL_GLUE)",
    ),
    ("--cdr-schema-registry", str, DEFAULT_SCHEMA_REGISTRY, "avro: the registry holding the CDR schema"),
)


def add_arguments(parser: Any) -> None:
    """Register the options on Locust's (configargparse) parser."""
    group = parser.add_argument_group("cdrcap", "CDR load generator (loadgen/)")
    for flag, kind, default, help_text in OPTIONS:
        env_var = "LOCUST_" + flag.lstrip("-").replace("-", "_").upper()
        group.add_argument(flag, type=kind, default=default, env_var=env_var, help=help_text)


def scaled(rates: Any, factor: float) -> Any:
    values = {
        k: v * factor if isinstance(v, float) and not k.endswith("_s") else v
        for k, v in rates.__dict__.items()
    }
    return type(rates)(**values)


@dataclass(frozen=True)
class LoadOptions:
    """The parsed options, typed. Built from Locust's parsed options (workers get the master's)."""

    rate_rps: float
    shape: str
    duration_s: float
    steps: int
    users: int
    stream: str
    allowed_streams: tuple[str, ...]
    endpoint_url: str
    region: str
    aws_profile: str
    key_strategy: KeyStrategy
    batch_size: int
    max_records: int
    max_attempts: int
    transport: str
    run_dir: Path
    seed: int
    synth: SynthConfig
    aggregation: str = "none"
    max_buffered_ms: float = DEFAULT_MAX_BUFFERED_MS
    aggregation_max_bytes: int = MAX_AGGREGATE_BYTES
    glue_endpoint_url: str = ""
    schema_registry: str = DEFAULT_SCHEMA_REGISTRY

    @classmethod
    def from_parsed(cls, parsed: Any) -> LoadOptions:
        endpoint = parsed.cdr_endpoint or ""
        allowed = tuple(s for s in (parsed.cdr_allowed_streams or "").split(",") if s)
        if not allowed and is_loopback_url(endpoint):
            allowed = (parsed.cdr_target_stream,)  # a loopback emulator cannot cost money
        return cls(
            rate_rps=parsed.cdr_rate,
            shape=parsed.cdr_shape,
            duration_s=parsed.cdr_duration,
            steps=parsed.cdr_steps,
            users=parsed.cdr_users,
            stream=parsed.cdr_target_stream,
            allowed_streams=allowed,
            endpoint_url=endpoint,
            region=parsed.cdr_region,
            aws_profile=parsed.cdr_aws_profile,
            key_strategy=KeyStrategy(parsed.cdr_partition_key, parsed.cdr_hot_share),
            batch_size=max(1, min(parsed.cdr_batch_size, PUT_RECORDS_MAX_RECORDS)),
            max_records=parsed.cdr_max_records,
            max_attempts=parsed.cdr_max_attempts,
            transport=parsed.cdr_transport,
            run_dir=Path(parsed.cdr_run_dir or f"runs/load-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"),
            seed=parsed.cdr_seed,
            synth=SynthConfig(
                home_region=parsed.cdr_home_region,
                subscribers=parsed.cdr_subscribers,
                fraud=scaled(FraudRates(), parsed.cdr_fraud_scale),
                defects=scaled(DefectRates(), parsed.cdr_defect_scale),
                **format_weights(parsed.cdr_formats),
            ),
            aggregation=getattr(parsed, "cdr_aggregation", "none"),
            max_buffered_ms=getattr(parsed, "cdr_max_buffered_ms", DEFAULT_MAX_BUFFERED_MS),
            aggregation_max_bytes=getattr(parsed, "cdr_aggregation_max_bytes", MAX_AGGREGATE_BYTES),
            glue_endpoint_url=getattr(parsed, "cdr_glue_endpoint", "") or "",
            schema_registry=getattr(parsed, "cdr_schema_registry", "") or DEFAULT_SCHEMA_REGISTRY,
        )

    def __post_init__(self) -> None:
        Caps(self.max_records, self.duration_s)  # the hard caps hold for Locust-only runs too
        check_aggregation(self.aggregation, self.max_buffered_ms, self.aggregation_max_bytes)

    @property
    def profile(self) -> RateProfile:
        return RateProfile(self.shape, self.rate_rps, self.duration_s, self.steps)

    @property
    def target(self) -> Target:
        local = is_loopback_url(self.endpoint_url)
        return Target(
            name="local" if local else "aws",
            region=self.region,
            profile=self.aws_profile or None,
            endpoint_url=self.endpoint_url or None,
            kinesis_endpoint_url=self.endpoint_url or None,
            is_local=local,
            allowed_streams=self.allowed_streams,
            glue_endpoint_url=self.glue_endpoint_url or None,
        )


def format_weights(mix: str) -> dict[str, Any]:
    """`json-v2=0.6,csv-v2=0.2,asterisk_cdr_csv=0.2` -> SynthConfig's format_weights (in FORMATS order),
    layout_weights (an input mapping's name: a VoIP switch's layout, drawn as JSON v1 and rewritten by
    loadgen/layouts.py) and avro_share (drawn as JSON v2, sent as Avro); empty -> the default."""
    if not mix:
        return {}
    weights = dict.fromkeys(RECORD_FORMATS, 0.0)
    layouts: dict[str, float] = {}
    shipped = shipped_mapping_names()
    for part in mix.split(","):
        raw, _, share = part.partition("=")
        name = raw.strip().replace("_", "-")
        if name not in weights and raw.strip() not in shipped:
            raise LoadConfigError(
                f"--cdr-formats: unknown format {raw.strip()!r}; use {', '.join(RECORD_FORMATS)} or a switch "
                f"layout ({', '.join(shipped)})"
            )
        try:
            value = float(share)
        except ValueError:
            raise LoadConfigError(f"--cdr-formats: share of {raw!r} is not a number: {share!r}") from None
        if name in weights:
            weights[name] = value
        else:
            layouts[raw.strip()] = value
    # A layout's records are drawn as JSON v1 and rewritten, so its share is part of json-v1's weight.
    weights["json-v1"] += sum(layouts.values())
    avro = weights.pop(AVRO_FORMAT)
    weights["json-v2"] += avro  # Avro records are drawn as JSON v2 and rewritten
    if sum(weights.values()) <= 0 or min([*weights.values(), *layouts.values(), avro]) < 0:
        raise LoadConfigError(f"--cdr-formats: shares must be >= 0 and not all 0, got {mix!r}")
    total = sum(weights.values())
    return {
        "format_weights": tuple(weights[name] for name in FORMATS),
        "layout_weights": tuple((name, share / total) for name, share in layouts.items()),
        "avro_share": avro / total,
    }
