"""The local stack's Glue Schema Registry (moto, MiniStack has none) serves the handler from the unpacked zip:
Avro records of both registered CDR schema versions decode, one of an unknown version goes to the DLQ."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.aws import client
from infra.local.stack import LocalStack, LocalStackConfig, StackInfo
from infra.schema_registry import register_cdr_schema, registry_name
from pipeline.avro_cdr import AvroEncoder
from pipeline.gsr import COMPRESSION_ZLIB
from tests.support.local_esm_harness import wait_for
from tests.support.local_stack import two_free_ports
from tests.support.pipeline_events import make_cdr


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[LocalStack, StackInfo]]:
    local = LocalStack(tmp_path / "state")
    info = local.up(LocalStackConfig(shards=1, port=two_free_ports(), concurrency_limit=1))
    try:
        yield local, info
    finally:
        if local.status() is not None:
            local.down()


def _recent(i: int, **overrides: object) -> dict[str, object]:
    """A CDR of an hour ago in UTC (the stack's handler checks times against now)."""
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 3600))
    return make_cdr(
        i,
        seizure_time=at,
        answer_time=at,
        release_time=at,
        duration_s=0,
        utc_offset="+00:00",
        call_reference=f"AVRO{i}-{uuid.uuid4().hex[:8]}",
        **overrides,
    )


def test_avro_records_are_decoded_through_the_stacks_registry(stack: tuple[LocalStack, StackInfo]) -> None:
    local, info = stack
    target = info.target()
    # Given the stack's registry, which `up` filled with both CDR schema versions
    glue = client(target, "glue")
    v1_id = register_cdr_schema(glue, registry_name(info.stack_name), version=1)
    v2_id = register_cdr_schema(glue, registry_name(info.stack_name), version=2)
    assert glue.get_schema_version(SchemaVersionId=str(v2_id))["VersionNumber"] == 2
    # When a v1 record, a zlib v2 record and a record of an unregistered version go in
    v1, v2 = AvroEncoder(v1_id, 1), AvroEncoder(v2_id, 2, compression=COMPRESSION_ZLIB)
    unknown = AvroEncoder(uuid.uuid4(), 2)
    records = [v1.encode(_recent(1)), v2.encode(_recent(2, rat="NR")), unknown.encode(_recent(3, rat="NR"))]
    client(target, "kinesis").put_records(
        StreamName=info.input_stream_name,
        Records=[{"PartitionKey": "14155550100", "Data": data} for data in records],
    )
    # Then the handler from the zip decoded the two known ones and rejected the third with its reason
    log = Path(info.handler_log_path)

    def metrics() -> list[dict[str, object]]:
        lines = (
            [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")] if log.exists() else []
        )
        found = [line for line in lines if "RecordsIn" in line]
        return found if sum(int(str(m["RecordsIn"])) for m in found) >= 3 else []

    found = wait_for(metrics, deadline_s=60)
    assert sum(int(str(m["RecordsOk"])) for m in found) == 2
    assert sum(int(str(m.get("RecordsRejected_GSR_UNKNOWN_SCHEMA_VERSION", 0))) for m in found) == 1
    assert local.alive()["glue"]
