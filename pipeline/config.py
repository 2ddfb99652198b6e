"""Handler configuration: environment variables read and validated once, at cold start."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import phonenumbers

from pipeline import constants as c
from pipeline.errors import ConfigError
from pipeline.mapping import MappingSet, load_mapping_set

DEFAULT_AGGREGATE_TTL_S = 7 * 24 * 3600
DEFAULT_MAX_RECORD_BYTES = 64 * 1024
DEFAULT_MAX_CLOCK_SKEW_S = 300
DEFAULT_MAX_RECORD_AGE_DAYS = 30
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    input_stream_arn: str | None
    output_stream: str
    aggregates_table: str
    archive_bucket: str
    dlq_url: str
    alert_bus: str | None
    home_region: str
    aggregate_ttl_s: int
    max_record_bytes: int
    max_clock_skew_s: int
    max_record_age_days: int
    log_level: str
    metrics_namespace: str
    fraud_rules_path: str | None = None  # None: the packaged pipeline/fraud/rules.json
    fraud_state_writes: str = c.FRAUD_STATE_WRITE_MODES[0]  # "transact" | "item": docs/fraud.md
    exactly_once: str = c.EXACTLY_ONCE_DESIGNS[0]  # "per_record" | "folded" | "ledger": docs/pipeline.md
    # msc_id -> (mcc, mnc); "" = every switch without its own entry. Empty: no PLMN is derived.
    serving_plmn: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # Compiled CDRCAP_INPUT_MAPPINGS (docs/pipeline.md "Input mappings"); None: native formats only.
    input_mappings: MappingSet | None = None


def _required(env: Mapping[str, str], name: str, what: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set: set it to {what} (the stack's outputs give the value).")
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not an integer: set a whole number such as {default}."
        ) from None
    if value <= 0:
        raise ConfigError(f"{name}={value} must be positive: set a whole number such as {default}.")
    return value


_PLMN = re.compile(r"(\d{3})-(\d{2,3})")


def parse_serving_plmn(raw: str) -> dict[str, tuple[str, str]]:
    """`CDRCAP_SERVING_PLMN`: "MCC-MNC" (every switch) and/or "<msc_id>=MCC-MNC" entries, comma-separated.

    The hyphen is required: "310260" could be 310-260 or 310-26 plus a digit, and a wrong MNC would file
    every cell under another network.
    """
    plmns: dict[str, tuple[str, str]] = {}
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        switch, _, plmn = entry.rpartition("=")
        match = _PLMN.fullmatch(plmn.strip())
        if match is None:
            raise ConfigError(
                f"{c.ENV_SERVING_PLMN}: {entry!r} is not MCC-MNC: write 3 digits, a hyphen and the 2- or "
                "3-digit MNC, optionally after '<msc_id>=' (e.g. 310-260 or MSC01=234-15)."
            )
        key = switch.strip()
        if key in plmns:
            raise ConfigError(
                f"{c.ENV_SERVING_PLMN}: {'the default' if not key else repr(key)} is given twice: keep one."
            )
        plmns[key] = (match.group(1), match.group(2))
    return plmns


def load_config(env: Mapping[str, str] | None = None) -> PipelineConfig:
    """Build the configuration from `env` (default: the process environment); raise ConfigError if bad."""
    env = os.environ if env is None else env
    home_region = env.get(c.ENV_HOME_REGION, "US").strip().upper()
    if home_region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(
            f"{c.ENV_HOME_REGION}={home_region!r} is not a numbering-plan region: set an ISO 3166 alpha-2 "
            "code such as US, GB or IN."
        )
    log_level = env.get(c.ENV_LOG_LEVEL, "INFO").strip().upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"{c.ENV_LOG_LEVEL}={log_level!r} is not one of {', '.join(LOG_LEVELS)}.")
    fraud_state_writes = env.get(c.ENV_FRAUD_STATE_WRITES, "").strip().lower() or c.FRAUD_STATE_WRITE_MODES[0]
    if fraud_state_writes not in c.FRAUD_STATE_WRITE_MODES:
        raise ConfigError(
            f"{c.ENV_FRAUD_STATE_WRITES}={fraud_state_writes!r} is not a fraud state write mode: set "
            f"{' or '.join(c.FRAUD_STATE_WRITE_MODES)} (or unset it for transact)."
        )
    exactly_once = env.get(c.ENV_EXACTLY_ONCE, "").strip().lower() or c.EXACTLY_ONCE_DESIGNS[0]
    if exactly_once not in c.EXACTLY_ONCE_DESIGNS:
        raise ConfigError(
            f"{c.ENV_EXACTLY_ONCE}={exactly_once!r} is not an exactly-once design: set "
            f"{', '.join(c.EXACTLY_ONCE_DESIGNS[:-1])} or {c.EXACTLY_ONCE_DESIGNS[-1]} (or unset it for "
            f"{c.EXACTLY_ONCE_DESIGNS[0]}; docs/pipeline.md compares them)."
        )
    return PipelineConfig(
        input_stream_arn=env.get(c.ENV_INPUT_STREAM_ARN) or None,
        output_stream=_required(env, c.ENV_OUTPUT_STREAM, "the output Kinesis stream name"),
        aggregates_table=_required(env, c.ENV_AGGREGATES_TABLE, "the aggregates DynamoDB table name"),
        archive_bucket=_required(env, c.ENV_ARCHIVE_BUCKET, "the archive S3 bucket name"),
        dlq_url=_required(env, c.ENV_DLQ_URL, "the dead-letter SQS queue URL"),
        alert_bus=env.get(c.ENV_ALERT_BUS) or None,
        home_region=home_region,
        aggregate_ttl_s=_positive_int(env, c.ENV_AGGREGATE_TTL_S, DEFAULT_AGGREGATE_TTL_S),
        max_record_bytes=_positive_int(env, c.ENV_MAX_RECORD_BYTES, DEFAULT_MAX_RECORD_BYTES),
        max_clock_skew_s=_positive_int(env, c.ENV_MAX_CLOCK_SKEW_S, DEFAULT_MAX_CLOCK_SKEW_S),
        max_record_age_days=_positive_int(env, c.ENV_MAX_RECORD_AGE_DAYS, DEFAULT_MAX_RECORD_AGE_DAYS),
        log_level=log_level,
        metrics_namespace=env.get(c.ENV_METRICS_NAMESPACE) or c.DEFAULT_METRICS_NAMESPACE,
        fraud_rules_path=env.get(c.ENV_FRAUD_RULES_PATH) or None,
        fraud_state_writes=fraud_state_writes,
        exactly_once=exactly_once,
        serving_plmn=parse_serving_plmn(env.get(c.ENV_SERVING_PLMN, "")),
        input_mappings=load_mapping_set(env.get(c.ENV_INPUT_MAPPINGS, "")),
    )
