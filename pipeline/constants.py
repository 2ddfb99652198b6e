"""Names shared by the runtime code and the infrastructure: environment variables, resource names, outputs.

infra/ (CloudFormation, the local stack) and pipeline/ both import this module, so a name lives in one place.
"""

from __future__ import annotations

from typing import Final

# Environment variables the handler reads at cold start (validated once, see pipeline/config.py).
ENV_INPUT_STREAM_ARN: Final = "CDRCAP_INPUT_STREAM_ARN"
ENV_OUTPUT_STREAM: Final = "CDRCAP_OUTPUT_STREAM"
ENV_AGGREGATES_TABLE: Final = "CDRCAP_AGGREGATES_TABLE"
ENV_ARCHIVE_BUCKET: Final = "CDRCAP_ARCHIVE_BUCKET"
ENV_DLQ_URL: Final = "CDRCAP_DLQ_URL"
ENV_ALERT_BUS: Final = "CDRCAP_ALERT_BUS"
ENV_HOME_REGION: Final = "CDRCAP_HOME_REGION"  # ISO 3166 alpha-2 of the switch's numbering plan, e.g. "US"
ENV_AGGREGATE_TTL_S: Final = "CDRCAP_AGGREGATE_TTL_S"
ENV_MAX_RECORD_BYTES: Final = "CDRCAP_MAX_RECORD_BYTES"
ENV_MAX_CLOCK_SKEW_S: Final = "CDRCAP_MAX_CLOCK_SKEW_S"  # how far in the future a CDR may be
ENV_MAX_RECORD_AGE_DAYS: Final = "CDRCAP_MAX_RECORD_AGE_DAYS"  # how far in the past a CDR may be
ENV_LOG_LEVEL: Final = "CDRCAP_LOG_LEVEL"
ENV_METRICS_NAMESPACE: Final = "CDRCAP_METRICS_NAMESPACE"
ENV_FRAUD_RULES_PATH: Final = (
    "CDRCAP_FRAUD_RULES_PATH"  # optional; default: the packaged pipeline/fraud/rules.json
)
ENV_FRAUD_TOKEN_KEY: Final = (
    "CDRCAP_FRAUD_TOKEN_KEY"  # HMAC key for subscriber tokens in fraud state and alerts
)
ENV_FRAUD_STATE_WRITES: Final = (
    "CDRCAP_FRAUD_STATE_WRITES"  # "transact" (default: 100 items a request) or "item" (one UpdateItem each)
)
FRAUD_STATE_WRITE_MODES: Final = ("transact", "item")
# How aggregates are made exactly once (docs/pipeline.md, "Idempotency"): "per_record" = one claim item per
# cdr_id in the chunk's transaction; "folded" = the claim is an attribute of the CDR's A-number minute item;
# "ledger" = claims per (shard, arrival second) + one delta item per commit, readers sum the deltas.
ENV_EXACTLY_ONCE: Final = "CDRCAP_EXACTLY_ONCE"
EXACTLY_ONCE_DESIGNS: Final = ("per_record", "folded", "ledger")
# The PLMN (MCC-MNC) a switch serves, for 3GPP records that leave mCC-MNC out: "310-260", or per recording
# entity "MSC01=310-260,+14155550000=310-410" (an entry without "=" is the default). docs/ber.md "Derived".
ENV_SERVING_PLMN: Final = "CDRCAP_SERVING_PLMN"
# Input mappings of non-native layouts (Asterisk, FreeSWITCH, ...): shipped names or TOML paths, comma-
# separated; docs/pipeline.md "Input mappings".
ENV_INPUT_MAPPINGS: Final = "CDRCAP_INPUT_MAPPINGS"
# AWS_ENDPOINT_URL (honoured by boto3 itself) points every client at the emulator for local runs.

# Default resource names; a stack name prefix makes them unique per deployment.
DEFAULT_STACK_NAME: Final = "cdrcap"
INPUT_STREAM_SUFFIX: Final = "cdr-in"
OUTPUT_STREAM_SUFFIX: Final = "cdr-out"
AGGREGATES_TABLE_SUFFIX: Final = "aggregates"
ARCHIVE_BUCKET_SUFFIX: Final = "archive"
DLQ_SUFFIX: Final = "dlq"
ALERT_BUS_SUFFIX: Final = "alerts"
FUNCTION_SUFFIX: Final = "cdr-processor"
# The Glue Schema Registry of Avro CDRs (<stack>-schemas) and the CDR schema in it (pipeline/schemas/*.avsc).
SCHEMA_REGISTRY_SUFFIX: Final = "schemas"
CDR_SCHEMA_NAME: Final = "cdr"

# CloudFormation output keys of infra/pipeline.yaml; infra/local reads the same keys.
OUTPUT_INPUT_STREAM_NAME: Final = "InputStreamName"
OUTPUT_INPUT_STREAM_ARN: Final = "InputStreamArn"
OUTPUT_OUTPUT_STREAM_NAME: Final = "OutputStreamName"
OUTPUT_OUTPUT_STREAM_ARN: Final = "OutputStreamArn"
OUTPUT_AGGREGATES_TABLE: Final = "AggregatesTableName"
OUTPUT_ARCHIVE_BUCKET: Final = "ArchiveBucketName"
OUTPUT_DLQ_URL: Final = "DeadLetterQueueUrl"
OUTPUT_DLQ_ARN: Final = "DeadLetterQueueArn"
OUTPUT_ALERT_BUS: Final = "AlertBusName"
OUTPUT_FUNCTION_NAME: Final = "FunctionName"

# The aggregates table's key schema and TTL attribute.
TABLE_PARTITION_KEY: Final = "pk"
TABLE_SORT_KEY: Final = "sk"
TABLE_TTL_ATTRIBUTE: Final = "expires_at"

# EMF metrics namespace of the handler.
DEFAULT_METRICS_NAMESPACE: Final = "cdrcap"


def resource_name(stack_name: str, suffix: str) -> str:
    """The physical name of one of the pipeline's resources for a given stack."""
    return f"{stack_name}-{suffix}"
