"""AWS quotas the local stack emulates (Kinesis shard limits, Lambda event-source-mapping bounds).

These numbers belong in capacity/quotas.py (the one dated, sourced module for AWS numbers); they live here
only until that module is on this branch, and every user in infra/local imports them from here.
Checked 2026-11-26 against:
- Kinesis: https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html
- Lambda ESM for Kinesis: https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-parameters.html
- Lambda payload: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
"""

from __future__ import annotations

from typing import Final

MIB: Final = 1024 * 1024

# Kinesis Data Streams, per shard (provisioned mode).
KINESIS_SHARD_WRITE_RECORDS_PER_S: Final = 1_000
KINESIS_SHARD_WRITE_BYTES_PER_S: Final = 1 * MIB  # data blob + partition key bytes
KINESIS_SHARD_READ_CALLS_PER_S: Final = 5
KINESIS_SHARD_READ_BYTES_PER_S: Final = 2 * MIB
KINESIS_GET_RECORDS_MAX_RECORDS: Final = 10_000
KINESIS_PUT_RECORDS_MAX_RECORDS: Final = 500
KINESIS_MAX_RECORD_BYTES: Final = 1 * MIB

# Lambda event source mapping for Kinesis.
ESM_BATCH_SIZE_MIN: Final = 1
ESM_BATCH_SIZE_MAX: Final = 10_000
ESM_BATCHING_WINDOW_MAX_S: Final = 300
ESM_PARALLELIZATION_FACTOR_MAX: Final = 10
ESM_MAX_RETRY_ATTEMPTS_MAX: Final = 10_000  # -1 means infinite
ESM_MAX_RECORD_AGE_MIN_S: Final = 60  # or -1 for infinite
ESM_MAX_RECORD_AGE_MAX_S: Final = 604_800
ESM_POLL_INTERVAL_CAUGHT_UP_S: Final = 1.0  # Lambda polls each shard about once a second when caught up
LAMBDA_INVOKE_PAYLOAD_MAX_BYTES: Final = 6 * MIB  # synchronous invocation request payload
