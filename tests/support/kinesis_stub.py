"""A PutRecords stub that throttles or fails a share of entries, and a producer wired to it (no network)."""

import random

from infra.aws import Target
from loadgen.producer import KinesisProducer, RetryPolicy

TARGET = Target(
    name="local", is_local=True, endpoint_url="http://127.0.0.1:1", allowed_streams=("cdrcap-cdr-in",)
)


class ThrottlingKinesis:
    """A stub PutRecords that throttles a share of entries (and fails a few), recording every call."""

    def __init__(self, throttle_share: float, fail_share: float = 0.0, seed: int = 1) -> None:
        self.throttle_share = throttle_share
        self.fail_share = fail_share
        self.rng = random.Random(seed)
        self.calls: list[list[bytes]] = []
        self.stored: list[bytes] = []

    def put_records(self, StreamName: str, Records: list[dict]) -> dict:
        self.calls.append([r["Data"] for r in Records])
        results = []
        for record in Records:
            draw = self.rng.random()
            if draw < self.throttle_share:
                results.append(
                    {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"}
                )
            elif draw < self.throttle_share + self.fail_share:
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "oops"})
            else:
                self.stored.append(record["Data"])
                results.append({"SequenceNumber": str(len(self.stored)), "ShardId": "shardId-000000000000"})
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedRecordCount": failed, "Records": results}


def stub_producer(stub, attempts: int = 5) -> KinesisProducer:
    return KinesisProducer(TARGET, "cdrcap-cdr-in", kinesis=stub, retry=RetryPolicy(max_attempts=attempts),
                           sleep=lambda _: None, seed=1)  # fmt: skip
