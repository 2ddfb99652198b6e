"""AWS numbers the load generator needs, until capacity/quotas.py (branch `capacity`) is on main.

Sources (read 2024-11):
- Kinesis quotas: https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html
- Kinesis prices, us-east-1: https://aws.amazon.com/kinesis/data-streams/pricing/
"""

from __future__ import annotations

from typing import Final

# PutRecords API and per-shard write limits.
PUT_RECORDS_MAX_RECORDS: Final = 500
PUT_RECORDS_MAX_BYTES: Final = 5 * 1024 * 1024
RECORD_MAX_BYTES: Final = 1024 * 1024  # data + partition key
SHARD_WRITE_RECORDS_PER_S: Final = 1_000
SHARD_WRITE_BYTES_PER_S: Final = 1024 * 1024

# Provisioned mode prices.
SHARD_HOUR_USD: Final = 0.015
PUT_PAYLOAD_UNITS_PER_MILLION_USD: Final = 0.014
PUT_PAYLOAD_UNIT_BYTES: Final = 25 * 1024
# On-demand mode prices.
ON_DEMAND_STREAM_HOUR_USD: Final = 0.04
ON_DEMAND_INGEST_PER_GB_USD: Final = 0.08
ON_DEMAND_RECORD_ROUNDING_BYTES: Final = 1024  # each record is billed in 1 KiB increments
