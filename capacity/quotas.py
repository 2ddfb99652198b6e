"""Every AWS number the capacity model uses: service quotas and us-east-1 prices, dated and sourced.

Nothing else in the project may hard-code an AWS limit or price; import it from here. The API request limits
the Lambda code obeys are declared in pipeline/aws_limits.py (the Lambda package cannot import the harness);
the ones the harness shares (PutRecords) are re-exported here, so each number still has one source. Quotas
are defaults (some are adjustable per account); prices are list prices for us-east-1 on `AS_OF` and can be
replaced for another region with `Prices.from_mapping` / `load_prices` (a TOML table or a JSON object of the
same keys).
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from capacity.errors import CapacityError
from pipeline.aws_limits import EVENTBRIDGE_BILLED_CHUNK_BYTES as EVENTBRIDGE_BILLED_CHUNK_BYTES

# Re-exported ("as" marks them public): the limits declared once for the Lambda and shared by the harness
# (PutRecords for the load generator; SendMessageBatch for the cost of the dead-letter queue).
from pipeline.aws_limits import EVENTBRIDGE_PRICING_URL as EVENTBRIDGE_PRICING_URL
from pipeline.aws_limits import KDS_PRICING_URL as KDS_PRICING_URL
from pipeline.aws_limits import KDS_PUT_RECORDS_URL as KDS_PUT_RECORDS_URL
from pipeline.aws_limits import MAX_RECORD_BYTES as MAX_RECORD_BYTES
from pipeline.aws_limits import PUT_PAYLOAD_UNIT_BYTES as PUT_PAYLOAD_UNIT_BYTES
from pipeline.aws_limits import PUT_RECORDS_MAX_BYTES as PUT_RECORDS_MAX_BYTES
from pipeline.aws_limits import PUT_RECORDS_MAX_RECORDS as PUT_RECORDS_MAX_RECORDS
from pipeline.aws_limits import SQS_BILLED_CHUNK_BYTES as SQS_BILLED_CHUNK_BYTES
from pipeline.aws_limits import SQS_PRICING_URL as SQS_PRICING_URL
from pipeline.aws_limits import SQS_SEND_MESSAGE_BATCH_MAX_ENTRIES as SQS_SEND_MESSAGE_BATCH_MAX_ENTRIES

AS_OF: Final = "2026-11-26"
# Checked against stored copies of the cited pages on AS_OF: the shard write/read and GetRecords limits,
# the UpdateShardCount limits (2x / 0.5x, ten calls per rolling 24 h), the 25 KB PUT payload unit, the
# $0.015 shard-hour, the 1 KB rounding of on-demand data-in, and DynamoDB's $0.625 per million on-demand
# write units (after the November 2024 cut). The other prices are list prices to re-check at their URL.
# CloudFormation's 51,200-byte TemplateBody was checked on AS_OF against the CreateChangeSet request's
# TemplateBody description in the AWS SDK reference ("a maximum length of 51,200 bytes").

KDS_QUOTAS_URL: Final = "https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html"
KDS_UPDATE_SHARD_COUNT_URL: Final = (
    "https://docs.aws.amazon.com/kinesis/latest/APIReference/API_UpdateShardCount.html"
)
KDS_EFO_URL: Final = "https://docs.aws.amazon.com/streams/latest/dev/enhanced-consumers.html"
KDS_SUBSCRIBE_TO_SHARD_URL: Final = (
    "https://docs.aws.amazon.com/kinesis/latest/APIReference/API_SubscribeToShard.html"
)
LAMBDA_ESM_URL: Final = "https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html"
LAMBDA_ESM_API_URL: Final = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html"
LAMBDA_QUOTAS_URL: Final = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
LAMBDA_MEMORY_URL: Final = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html"
LAMBDA_PRICING_URL: Final = "https://aws.amazon.com/lambda/pricing/"
DDB_PARTITIONS_URL: Final = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html"
)
DDB_PRICING_URL: Final = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
S3_PRICING_URL: Final = "https://aws.amazon.com/s3/pricing/"
CLOUDWATCH_PRICING_URL: Final = "https://aws.amazon.com/cloudwatch/pricing/"
CW_PUT_METRIC_DATA_URL: Final = (
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html"
)
CW_LOGS_PUT_LOG_EVENTS_URL: Final = (
    "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html"
)
CW_LOGS_FILTER_LOG_EVENTS_URL: Final = (
    "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html"
)
DDB_QUOTAS_URL: Final = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Limits.html"
DDB_ON_DEMAND_MAX_URL: Final = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode-max-throughput.html"
DDB_PROVISIONED_PRICING_URL: Final = "https://aws.amazon.com/dynamodb/pricing/provisioned/"
S3_PERFORMANCE_URL: Final = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html"
)
S3_STORAGE_CLASSES_URL: Final = "https://aws.amazon.com/s3/storage-classes/"
EVENTBRIDGE_QUOTAS_URL: Final = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"
SQS_THROUGHPUT_URL: Final = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html"
)
KDS_SSE_COSTS_URL: Final = "https://docs.aws.amazon.com/streams/latest/dev/costs-performance.html"
KMS_PRICING_URL: Final = "https://aws.amazon.com/kms/pricing/"
LAMBDA_LOGS_URL: Final = "https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html"
KDS_CAPACITY_MODES_URL: Final = "https://docs.aws.amazon.com/streams/latest/dev/how-do-i-size-a-stream.html"
KDS_ON_DEMAND_ADVANTAGE_BLOG_URL: Final = (
    "https://aws.amazon.com/blogs/big-data/amazon-kinesis-data-streams-launches-on-demand-advantage-for-"
    "instant-throughput-increases-and-streaming-at-scale"
)
KDS_UPDATE_STREAM_WARM_THROUGHPUT_URL: Final = (
    "https://docs.aws.amazon.com/kinesis/latest/APIReference/API_UpdateStreamWarmThroughput.html"
)
CFN_CREATE_CHANGE_SET_URL: Final = (
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html"
)

KIB: Final = 1024
MIB: Final = 1024 * 1024

# --- Kinesis Data Streams, provisioned shard (KDS_QUOTAS_URL) ---
SHARD_WRITE_BYTES_PER_S: Final = 1 * MIB
SHARD_WRITE_RECORDS_PER_S: Final = 1_000
SHARD_READ_BYTES_PER_S: Final = 2 * MIB  # shared by every polling (GetRecords) consumer
SHARD_GET_RECORDS_CALLS_PER_S: Final = 5  # shared by every polling consumer
GET_RECORDS_MAX_RECORDS: Final = 10_000
GET_RECORDS_MAX_BYTES: Final = 10 * MIB
DEFAULT_SHARDS_PER_ACCOUNT: Final = 20_000  # us-east-1, us-west-2, eu-west-1; 1,000 or 6,000 elsewhere
# AWS documents no per-stream shard maximum; the account quota is the bound a plan can be deployed within
# without a negotiated increase, so the planner answers beyond it at once (capacity/planner.py).
MAX_PLANNABLE_SHARDS: Final = DEFAULT_SHARDS_PER_ACCOUNT
# Enhanced fan-out (KDS_EFO_URL): 2 MiB/s per consumer per shard, 20 registered consumers per stream.
EFO_READ_BYTES_PER_S_PER_CONSUMER: Final = 2 * MIB
EFO_MAX_CONSUMERS_PER_STREAM: Final = 20
# A SubscribeToShard connection stays open for up to 5 minutes; the consumer then subscribes again from the
# last ContinuationSequenceNumber (KDS_SUBSCRIBE_TO_SHARD_URL).
EFO_SUBSCRIPTION_S: Final = 300.0
# Typical propagation delay stated by AWS (KDS_EFO_URL): ~200 ms with one polling consumer, ~1,000 ms with
# five (so ~200 ms per consumer sharing the 5 calls/s), ~70 ms with enhanced fan-out.
SHARED_PROPAGATION_MS_PER_CONSUMER: Final = 200.0
EFO_PROPAGATION_MS: Final = 70.0
# PutRecords (KDS_PUT_RECORDS_URL): 500 records and 5 MiB per call, 1 MiB per record; declared in
# pipeline/aws_limits.py (the handler's output stream obeys them too) and re-exported here.
# UpdateShardCount (KDS_UPDATE_SHARD_COUNT_URL): at most double / at least half per call, 10 calls per
# rolling 24 hours per stream.
RESHARD_MAX_UP_FACTOR: Final = 2.0
RESHARD_MIN_DOWN_FACTOR: Final = 0.5
RESHARD_CALLS_PER_24H: Final = 10
# "Depending on the size of the stream, the scaling action could take a few minutes to complete. You can
# continue to read and write data to your stream while its status is UPDATING" (KDS_UPDATE_SHARD_COUNT_URL,
# checked 2026-12-02). AWS gives no number: the scaling policies (capacity/scaling.py) assume 5 minutes per
# call, during which the old shard count serves and the larger of the two is billed.
RESHARD_DURATION_S: Final = 300.0

# --- Kinesis on-demand capacity (KDS_CAPACITY_MODES_URL, checked 2026-12-02) ---
# On-demand Standard: a new stream starts with 4 MiB/s and 4,000 records/s of write capacity; a stream
# accommodates up to double its previous peak write throughput of the last 30 days; traffic that grows past
# double the previous peak within 15 minutes may be throttled until the stream has scaled.
ON_DEMAND_INITIAL_WRITE_BYTES_PER_S: Final = 4 * MIB
ON_DEMAND_INITIAL_WRITE_RECORDS_PER_S: Final = 4_000
ON_DEMAND_PEAK_MULTIPLE: Final = 2.0
ON_DEMAND_PEAK_WINDOW_DAYS: Final = 30
ON_DEMAND_SCALE_UP_S: Final = 15 * 60.0
# On-demand Advantage (KDS_CAPACITY_MODES_URL, KDS_ON_DEMAND_ADVANTAGE_BLOG_URL): an account-level mode with
# warm throughput (UpdateStreamWarmThroughput sets write capacity ahead of a spike, up to 10 GiB/s,
# KDS_UPDATE_STREAM_WARM_THROUGHPUT_URL), no per-stream hourly charge, and data in, data out and extended
# retention "at least 60% lower" than On-demand Standard; it needs a minimum throughput billing commitment
# (24 h minimum). The stored pages do not give the commitment's size: the plan prices Advantage at 40 % of
# Standard's data prices (an upper bound) and says that the commitment is not priced.
ON_DEMAND_ADVANTAGE_DATA_PRICE_FACTOR: Final = 0.4
WARM_THROUGHPUT_MAX_BYTES_PER_S: Final = 10 * 1024 * MIB

# Billing units (KDS_PRICING_URL): provisioned streams bill one PUT payload unit per 25 KB chunk of a record
# (PUT_PAYLOAD_UNIT_BYTES, declared in pipeline/aws_limits.py for the function's request meter);
# on-demand streams round each record up to 1 KB of data in.
ON_DEMAND_BILLING_UNIT_BYTES: Final = 1 * KIB

# --- Kinesis Producer Library defaults (KPL_CONFIG_URL; the KinesisProducerConfiguration defaults, checked
# 2026-12-03): how long a user record may wait in the KPL's buffer to be aggregated and sent ---
KPL_CONFIG_URL: Final = "https://docs.aws.amazon.com/streams/latest/dev/kinesis-kpl-config.html"
KPL_RECORD_MAX_BUFFERED_TIME_MS: Final = 100

# --- Lambda event source mapping for Kinesis (LAMBDA_ESM_URL, LAMBDA_ESM_API_URL) ---
ESM_BATCH_SIZE_MIN: Final = 1
ESM_BATCH_SIZE_MAX: Final = 10_000
ESM_BATCHING_WINDOW_S_MIN: Final = 0
ESM_BATCHING_WINDOW_S_MAX: Final = 300
ESM_PARALLELIZATION_FACTOR_MIN: Final = 1
ESM_PARALLELIZATION_FACTOR_MAX: Final = 10
ESM_MAX_PAYLOAD_BYTES: Final = 6 * 1000 * 1000  # synchronous invocation payload, 6 MB
ESM_IDLE_POLL_INTERVAL_S: Final = 1.0  # "reads records from each shard at a base rate of once per second"
ESM_MAX_RETRY_ATTEMPTS_MAX: Final = 10_000  # -1 means infinite (LAMBDA_ESM_API_URL)
ESM_MAX_RECORD_AGE_S_MIN: Final = 60  # or -1 for infinite (LAMBDA_ESM_API_URL)
ESM_MAX_RECORD_AGE_S_MAX: Final = 604_800

# --- Lambda function (LAMBDA_MEMORY_URL, LAMBDA_QUOTAS_URL) ---
LAMBDA_MEMORY_MB_MIN: Final = 128
LAMBDA_MEMORY_MB_MAX: Final = 10_240
LAMBDA_MB_PER_VCPU: Final = 1_769  # "at 1,769 MB, a function has the equivalent of one vCPU"
LAMBDA_MAX_VCPU: Final = 6
LAMBDA_MAX_TIMEOUT_S: Final = 900
LAMBDA_DEFAULT_ACCOUNT_CONCURRENCY: Final = 1_000
# Deployment package size (LAMBDA_QUOTAS_URL, checked 2026-12-02): "50 MB (zipped, when uploaded directly)"
# and "250 MB" unzipped including layers; the API's own messages give both in MiB (262,144,000 bytes).
LAMBDA_ZIP_DIRECT_UPLOAD_BYTES: Final = 50 * MIB
LAMBDA_UNZIPPED_CODE_BYTES: Final = 250 * MIB

# --- Lambda execution environments: how long one stays warm (capacity/cold_starts.py) ---
# AWS documents no number. "Lambda maintains the execution environment for some time in anticipation of
# another function invocation. However, Lambda terminates execution environments every few hours to allow
# for runtime updates and maintenance - even for functions that are invoked continuously"
# (LAMBDA_EXECUTION_ENVIRONMENT_URL); asked for the figure, AWS answered that it does not publish it
# (LAMBDA_ENV_LIFETIME_REPOST_URL). Both values below are OBSERVED by third parties and ASSUMED here:
# an idle environment lived "precisely 10 minutes after the last request" from July 2019
# (LAMBDA_IDLE_OBSERVED_URL, earlier 25-60 min: 10 min is the cautious end), and environments were
# recycled about 4 hours after their host started (LAMBDA_RECYCLE_OBSERVED_URL, 2017).
LAMBDA_EXECUTION_ENVIRONMENT_URL: Final = (
    "https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html"
)
LAMBDA_ENV_LIFETIME_REPOST_URL: Final = (
    "https://repost.aws/questions/QUUveUH1fGR6SHB9ZvrBsTUA/lambda-runtime-refresh-period-limit"
)
LAMBDA_IDLE_OBSERVED_URL: Final = "https://mikhail.io/2019/08/aws-lambda-cold-starts-after-10-minutes/"
LAMBDA_RECYCLE_OBSERVED_URL: Final = (
    "https://theburningmonk.com/2017/06/finding-coldstarts-how-long-does-aws-lambda-keep-your-idle-"
    "functions-around/"
)
LAMBDA_ENV_IDLE_LIFETIME_S: Final = 600.0  # observed, assumed
LAMBDA_ENV_MAX_LIFETIME_S: Final = 4 * 3600.0  # observed, assumed

# --- DynamoDB read units (DDB_READ_WRITE_OPERATIONS_URL), checked 2026-12-03: a read of an item up to 4 KB is
# 1 unit strongly consistent, 0.5 eventually consistent; BatchGetItem reads each key as a GetItem, its item's
# size rounded up to the next 4 KB. (infra/local/ministack_fastpaths.py keeps its own copy: it runs in the
# emulator's interpreter; a unit test holds the two equal.)
DDB_READ_WRITE_OPERATIONS_URL: Final = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html"
)
DDB_READ_UNIT_BYTES: Final = 4 * KIB

# --- DynamoDB (DDB_PARTITIONS_URL) ---
DDB_PARTITION_WCU_PER_S: Final = 1_000
DDB_PARTITION_RCU_PER_S: Final = 3_000

# --- DynamoDB table throughput (DDB_QUOTAS_URL, DDB_ON_DEMAND_MAX_URL), checked 2026-12-02 ---
# On-demand tables are bounded by the table-level quota of 40,000 read and 40,000 write request units per
# second (adjustable); provisioned tables may provision at most that much per table, 80,000 per account.
DDB_TABLE_WRITE_UNITS_PER_S: Final = 40_000
DDB_TABLE_READ_UNITS_PER_S: Final = 40_000
DDB_ACCOUNT_PROVISIONED_UNITS: Final = 80_000
# Provisioned capacity is sized so auto scaling's target utilisation (70 % by default) holds at the peak.
DDB_AUTOSCALING_TARGET_UTILISATION: Final = 0.7

# --- S3 (S3_PERFORMANCE_URL): 3,500 PUT/COPY/POST/DELETE requests per second per partitioned prefix ---
S3_PUTS_PER_S_PER_PREFIX: Final = 3_500
# Standard-IA and Glacier Instant Retrieval bill objects under 128 KB as 128 KB (S3_STORAGE_CLASSES_URL)
S3_IA_MIN_BILLED_OBJECT_BYTES: Final = 128 * KIB

# --- EventBridge (EVENTBRIDGE_QUOTAS_URL): PutEvents requests per second per account, us-east-1 ---
# (us-east-1, us-west-2, eu-west-1: 10,000; us-east-2 2,400; most other Regions 1,200 or fewer; adjustable)
EVENTBRIDGE_PUT_EVENTS_PER_S: Final = 10_000

# --- SQS (SQS_THROUGHPUT_URL): standard queues support a nearly unlimited number of API calls per second ---
SQS_STANDARD_REQUESTS_PER_S: Final = None

# --- KMS for the streams' server-side encryption (KDS_SSE_COSTS_URL) ---
# The aws/kinesis key is free; Kinesis calls KMS about every five minutes per stream and per distinct user
# credential (producers, the function's role) to rotate the data key: requests are billed.
KDS_SSE_KMS_CALL_INTERVAL_S: Final = 300
KDS_SSE_CREDENTIALS_PER_STREAM: Final = 2  # assumption: one producer role, one consumer role per stream

# --- Lambda's own log lines (LAMBDA_LOGS_URL) ---
# START, END and REPORT per invocation, as the local runtime writes them in Lambda's format (request id,
# version, Duration, Billed Duration, Memory Size, Max Memory Used): ~300 bytes of CloudWatch Logs ingestion.
LAMBDA_PLATFORM_LOG_BYTES_PER_INVOCATION: Final = 300

# --- CloudFormation (CFN_CREATE_CHANGE_SET_URL) ---
# An inline TemplateBody may be 1 to 51,200 bytes; a larger template must be uploaded to S3 (TemplateURL).
CFN_TEMPLATE_BODY_MAX_BYTES: Final = 51_200

# --- CloudWatch and CloudWatch Logs APIs (checked 2026-12-02) ---
# PutMetricData (CW_PUT_METRIC_DATA_URL): at most 1,000 different metrics and 1 MB per request; up to 150
# distinct values per metric with Values/Counts (which keeps percentile statistics; StatisticValues do not).
PUT_METRIC_DATA_MAX_METRICS: Final = 1_000
PUT_METRIC_DATA_MAX_BYTES: Final = 1_000_000
PUT_METRIC_DATA_MAX_VALUES: Final = 150
# PutLogEvents (CW_LOGS_PUT_LOG_EVENTS_URL): at most 10,000 events and 1,048,576 bytes per batch, counted as
# the UTF-8 messages plus 26 bytes per event; the events of a batch may span at most 24 hours.
PUT_LOG_EVENTS_MAX_EVENTS: Final = 10_000
PUT_LOG_EVENTS_MAX_BYTES: Final = 1_048_576
PUT_LOG_EVENTS_EVENT_OVERHEAD_BYTES: Final = 26
PUT_LOG_EVENTS_MAX_SPAN_S: Final = 24 * 3600
# FilterLogEvents (CW_LOGS_FILTER_LOG_EVENTS_URL): one page holds up to 10,000 events or 1 MB.
FILTER_LOG_EVENTS_MAX_EVENTS: Final = 10_000

HOURS_PER_MONTH: Final = 730.0
SECONDS_PER_MONTH: Final = HOURS_PER_MONTH * 3600.0


@dataclass(frozen=True)
class Prices:
    """List prices in USD for one region. Defaults: us-east-1 on AS_OF, first pricing tier."""

    region: str = "us-east-1"
    # Kinesis, provisioned (KDS_PRICING_URL)
    kds_shard_hour_usd: float = 0.015
    kds_put_payload_units_per_million_usd: float = 0.014  # one unit per 25 KB chunk of a record
    # Kinesis, on-demand (KDS_PRICING_URL): per stream-hour, per GB in (rounded up to 1 KB a record), per
    # GB retrieved by each consumer
    kds_on_demand_stream_hour_usd: float = 0.04
    kds_on_demand_gb_in_usd: float = 0.08
    kds_on_demand_gb_out_usd: float = 0.04
    # Kinesis enhanced fan-out (KDS_PRICING_URL)
    kds_efo_consumer_shard_hour_usd: float = 0.015
    kds_efo_gb_usd: float = 0.013
    # Lambda (LAMBDA_PRICING_URL), first tier
    lambda_requests_per_million_usd: float = 0.20
    lambda_gb_second_x86_64_usd: float = 0.0000166667
    lambda_gb_second_arm64_usd: float = 0.0000133334
    # Provisioned concurrency (LAMBDA_PRICING_URL, "Provisioned Concurrency Pricing", us-east-1; checked
    # 2026-12-03 against the AWS Price List usage types Lambda-Provisioned-Concurrency(-ARM) and
    # Lambda-Provisioned-GB-Second(-ARM)): per GB-second configured (billed from enabling until disabling,
    # rounded up to five minutes), and the duration of invocations that run on it, per GB-second, instead of
    # the on-demand price
    lambda_provisioned_gb_second_x86_64_usd: float = 0.0000041667
    lambda_provisioned_gb_second_arm64_usd: float = 0.0000033334
    lambda_provisioned_duration_gb_second_x86_64_usd: float = 0.0000097222
    lambda_provisioned_duration_gb_second_arm64_usd: float = 0.0000077778
    # DynamoDB on-demand (DDB_PRICING_URL)
    ddb_write_request_units_per_million_usd: float = 0.625
    # S3 Standard PUT/COPY/POST/LIST per 1,000 requests (S3_PRICING_URL)
    s3_put_per_thousand_usd: float = 0.005
    # SQS standard queue per million requests after the free tier (SQS_PRICING_URL)
    sqs_requests_per_million_usd: float = 0.40
    # CloudWatch (CLOUDWATCH_PRICING_URL): log ingestion per GB (EMF lines), custom metric per month
    cloudwatch_logs_gb_ingested_usd: float = 0.50
    cloudwatch_custom_metric_month_usd: float = 0.30
    # Reading a run back (CLOUDWATCH_PRICING_URL): Logs Insights bills each query per GB scanned;
    # FilterLogEvents has no per-request or per-GB charge on the pricing page (logs are paid at ingestion and
    # storage); GetMetricData bills per 1,000 metrics requested.
    cloudwatch_logs_insights_gb_scanned_usd: float = 0.005
    cloudwatch_get_metric_data_per_thousand_metrics_usd: float = 0.01
    cloudwatch_logs_gb_stored_month_usd: float = 0.03
    # Kinesis data retention beyond 24 h, up to 7 days, per shard-hour (KDS_PRICING_URL)
    kds_extended_retention_shard_hour_usd: float = 0.02
    # DynamoDB on-demand reads (DDB_PRICING_URL); provisioned per unit-hour (DDB_PROVISIONED_PRICING_URL)
    ddb_read_request_units_per_million_usd: float = 0.125
    ddb_provisioned_wcu_hour_usd: float = 0.00065
    ddb_provisioned_rcu_hour_usd: float = 0.00013
    # S3 storage per GB-month by class, and lifecycle transitions per 1,000 (S3_PRICING_URL)
    s3_standard_gb_month_usd: float = 0.023
    s3_standard_ia_gb_month_usd: float = 0.0125
    s3_glacier_ir_gb_month_usd: float = 0.004
    s3_transition_ia_per_thousand_usd: float = 0.01
    s3_transition_glacier_ir_per_thousand_usd: float = 0.02
    # EventBridge custom events per million, one per 64 KB chunk (EVENTBRIDGE_PRICING_URL)
    eventbridge_events_per_million_usd: float = 1.00
    # KMS requests per 10,000 (KMS_PRICING_URL)
    kms_requests_per_10k_usd: float = 0.03

    def lambda_gb_second_usd(self, architecture: str) -> float:
        if architecture == "arm64":
            return self.lambda_gb_second_arm64_usd
        if architecture == "x86_64":
            return self.lambda_gb_second_x86_64_usd
        raise CapacityError(f"architecture {architecture!r} is not arm64 or x86_64")

    def lambda_provisioned_gb_second_usd(self, architecture: str) -> tuple[float, float]:
        """(provisioned concurrency, duration on it) per GB-second for `architecture`."""
        if architecture == "arm64":
            return (
                self.lambda_provisioned_gb_second_arm64_usd,
                self.lambda_provisioned_duration_gb_second_arm64_usd,
            )
        if architecture == "x86_64":
            return (
                self.lambda_provisioned_gb_second_x86_64_usd,
                self.lambda_provisioned_duration_gb_second_x86_64_usd,
            )
        raise CapacityError(f"architecture {architecture!r} is not arm64 or x86_64")

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Prices:
        """Default prices with the given keys replaced; an unknown key is an error that names it."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise CapacityError(f"unknown price keys {unknown}; valid keys: {sorted(known)}")
        cleaned: dict[str, Any] = {}
        for key, value in values.items():
            if key == "region":
                cleaned[key] = str(value)
                continue
            if not isinstance(value, int | float) or value < 0:
                raise CapacityError(f"price {key}={value!r} must be a non-negative number")
            cleaned[key] = float(value)
        return dataclasses.replace(cls(), **cleaned)


def load_prices(path: Path) -> Prices:
    """Prices from a TOML file (top level or a [prices] table) or a JSON object of Prices fields."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CapacityError(f"cannot read prices file {path}: {error.strerror}") from error
    try:
        data: dict[str, Any] = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        raise CapacityError(f"prices file {path} is not valid {path.suffix or 'TOML'}: {error}") from error
    table = data.get("prices", data)
    if not isinstance(table, dict):
        raise CapacityError(f"prices file {path}: expected a table of prices")
    return Prices.from_mapping(table)


US_EAST_1: Final = Prices()
