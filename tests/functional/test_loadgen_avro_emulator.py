"""An Avro load (Glue Schema Registry framing) through the real producer into the emulator, with the local
stack's Glue registry (moto), read back and handed to the real handler: every CDR is emitted once."""

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from cdrcap.truth import mapping_event, stream_records
from infra.aws import Target
from infra.schema_registry import ensure_cdr_schemas
from loadgen.runner import run_load
from pipeline import gsr
from pipeline import handler as handler_module
from tests.support.glue_registry import glue_registry

STREAM = "cdrcap-cdr-in"
REGISTRY = "cdrcap-schemas"


@pytest.fixture
def glue_url(tmp_path: Path) -> Iterator[str]:
    with glue_registry(tmp_path) as url:
        yield url


def test_an_avro_load_is_read_by_the_handler_through_the_registry(
    clean_emulator, pipeline, glue_url, tmp_path, monkeypatch
):
    # Given the registry with both CDR schema versions, and the handler resolving schemas there
    glue = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    ids = ensure_cdr_schemas(glue.client("glue", endpoint_url=glue_url), REGISTRY)
    monkeypatch.setenv("AWS_ENDPOINT_URL_GLUE", glue_url)
    handler_module.configure()
    kinesis = pipeline.kinesis
    kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=STREAM, WaiterConfig={"Delay": 0.2})
    target = Target(name="local", endpoint_url=clean_emulator.endpoint_url,
                    kinesis_endpoint_url=clean_emulator.endpoint_url, is_local=True,
                    allowed_streams=(STREAM,), glue_endpoint_url=glue_url)  # fmt: skip
    # When two Locust users (one process state: one schema lookup, one synthesizer) send 60 % Avro and 40 %
    # JSON v2, no defects or fraud
    result = run_load(target, STREAM, "steady", 100.0, 3.0, tmp_path / "run", users=2, subscribers=5_000,
                      formats="avro=0.6,json-v2=0.4", defect_scale=0, fraud_scale=0,
                      echo=lambda _: None)  # fmt: skip
    accepted = result.totals["accepted"]
    assert accepted > 150 and result.totals["dropped"] == 0
    (shard_id, records), *_ = stream_records(kinesis, STREAM).items()
    # Then the stream holds Avro framed with the registry's v2 schema version id
    framed = [r["Data"] for r in records if gsr.looks_framed(r["Data"])]
    assert 0.4 * accepted < len(framed) < 0.8 * accepted
    assert {gsr.unframe(data).schema_version_id for data in framed} == {ids[2]}
    # And the real handler reads every record and emits each CDR exactly once
    assert handler_module.handler(mapping_event(shard_id, records, STREAM), None) == {"batchItemFailures": []}
    assert pipeline.dlq_messages(1, deadline_s=1.0) == []
    output = pipeline.output_records()
    assert len(output) == len({o["dedup_key"] for o in output}) == accepted
    formats = [o["cdr"]["source_format"] for o in output]
    assert formats.count("avro") == len(framed) and formats.count("json") == accepted - len(framed)
