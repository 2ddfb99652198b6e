"""Every AWS API limit the Lambda code obeys (request sizes and entry counts), dated and sourced.

This is capacity/quotas.py's twin for the Lambda package: the pipeline is zipped on its own and never imports
the harness (ARCHITECTURE.md), so the limits its requests must fit live here, and capacity/quotas.py
re-exports the ones the harness shares (PutRecords) instead of declaring them again: one source per number.
Service quotas, prices and the event source mapping's limits stay in capacity/quotas.py (only the harness
needs them). A new limit goes here, with the page that states it; tests/unit/test_pipeline_aws_limits.py
fails when a pipeline module declares one of these numbers itself.
"""

from __future__ import annotations

from typing import Final

AS_OF: Final = "2026-11-26"
# Checked on AS_OF against stored copies of the pages cited below (TransactWriteItems, BatchGetItem,
# PutRecords, PutEvents, the SQS message quotas), the Powertools change that enforces the EMF 100-value rule,
# and botocore 1.44's SQS model for the 1 MiB ceiling (the stored SQS quota pages predate it and say 256 KiB).

DDB_TRANSACT_WRITE_ITEMS_URL: Final = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html"
)
DDB_BATCH_GET_ITEM_URL: Final = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html"
)
DDB_ITEM_SIZE_URL: Final = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Limits.html"
KDS_PUT_RECORDS_URL: Final = "https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html"
SQS_SEND_MESSAGE_BATCH_URL: Final = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html"
)
SQS_QUOTAS_URL: Final = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html"
)
EVENTBRIDGE_PUT_EVENTS_URL: Final = (
    "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html"
)
KDS_PRICING_URL: Final = "https://aws.amazon.com/kinesis/data-streams/pricing/"
SQS_PRICING_URL: Final = "https://aws.amazon.com/sqs/pricing/"
EVENTBRIDGE_PRICING_URL: Final = "https://aws.amazon.com/eventbridge/pricing/"
EMF_SPECIFICATION_URL: Final = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html"

KIB: Final = 1024
MIB: Final = 1024 * 1024

# --- DynamoDB ---
# TransactWriteItems (DDB_TRANSACT_WRITE_ITEMS_URL): "groups up to 100 action requests" and "the aggregate
# size of the items in the transaction cannot exceed 4 MB" (DynamoDB sizes are binary: 4 MiB).
DDB_TRANSACT_WRITE_MAX_ITEMS: Final = 100
DDB_TRANSACT_WRITE_MAX_BYTES: Final = 4 * MIB
# BatchGetItem (DDB_BATCH_GET_ITEM_URL): "as many as 100 items" (more is a ValidationException), 16 MB of
# response (a partial result beyond it comes back as UnprocessedKeys, which the reader already retries).
DDB_BATCH_GET_MAX_KEYS: Final = 100
# Item size (DDB_ITEM_SIZE_URL, "Item size"): 400 KB including attribute names (binary: 400 KiB). Not among
# the stored pages checked on AS_OF: long-standing and documented, to re-check with the others.
DDB_ITEM_MAX_BYTES: Final = 400 * KIB

# --- Kinesis Data Streams ---
# PutRecords (KDS_PUT_RECORDS_URL): up to 500 records and 5 MiB per request, partition keys included;
# 1 MiB per record (partition key + data blob).
PUT_RECORDS_MAX_RECORDS: Final = 500
PUT_RECORDS_MAX_BYTES: Final = 5 * MIB
MAX_RECORD_BYTES: Final = 1 * MIB

# --- SQS (the dead-letter queue) ---
# SendMessageBatch (SQS_SEND_MESSAGE_BATCH_URL): at most 10 entries per call.
SQS_SEND_MESSAGE_BATCH_MAX_ENTRIES: Final = 10
# The API ceiling for one message, and for the sum of a batch's messages, is 1 MiB since SQS raised it from
# 256 KiB in 2025 (SQS_QUOTAS_URL; botocore 1.44's model: "both 1 MiB", MaximumMessageSize default 1 MiB).
# A queue accepts only up to its own MaximumMessageSize, and queues made before the change keep 256 KiB, so
# the sender does not assume the ceiling: infra/pipeline.yaml pins the DLQ's MaximumMessageSize to
# DLQ_MAX_MESSAGE_BYTES (tests/unit/test_pipeline_aws_limits.py checks the two agree), emit.py sizes one DLQ
# message and aws_stores.py one SendMessageBatch to it. 256 KiB fits any queue and the old and new batch
# ceilings alike; a DLQ message is a reject's envelope plus at most ~189 KiB of its payload (base64 of a
# quarter of the budget spent on encoding), far more than any CDR the handler accepts (64 KiB by default).
SQS_API_MAX_MESSAGE_BYTES: Final = 1 * MIB
DLQ_MAX_MESSAGE_BYTES: Final = 256 * KIB

# --- EventBridge ---
# PutEvents (EVENTBRIDGE_PUT_EVENTS_URL): Entries is an array of 1 to 10 entries.
PUT_EVENTS_MAX_ENTRIES: Final = 10

# --- CloudWatch embedded metric format ---
# EMF_SPECIFICATION_URL: a metric's values array must not hold more than 100 values.
EMF_MAX_VALUES_PER_METRIC: Final = 100

# --- Billing units the function's request meter counts in (pipeline/metering.py) ---
# Checked 2026-12-02 against the cited pricing pages. Kinesis provisioned streams bill one PUT payload unit
# per 25 KB chunk of a record (KDS_PRICING_URL: "a 5 KB record is one unit, a 45 KB record two"); SQS bills
# each 64 KB chunk of a request's payload as one request (SQS_PRICING_URL); EventBridge bills each 64 KB
# chunk of an event's payload as one event (EVENTBRIDGE_PRICING_URL). capacity/quotas.py re-exports these.
PUT_PAYLOAD_UNIT_BYTES: Final = 25 * KIB
SQS_BILLED_CHUNK_BYTES: Final = 64 * KIB
EVENTBRIDGE_BILLED_CHUNK_BYTES: Final = 64 * KIB
