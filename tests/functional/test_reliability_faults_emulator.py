"""Faults against the real emulator stores, re-delivered as Lambda would; `cdrcap verify` checks it all."""

import json
import time
from pathlib import Path
from typing import Any

import pytest

from cdrcap.cli import main
from cdrcap.truth import GROUND_TRUTH_FILE, truth_of_events
from infra.local.faults import configure_handler, parse_faults
from pipeline import constants as c
from pipeline import handler as handler_module
from pipeline.config import load_config
from tests.support.emulator_pipeline import BUCKET, Pipeline
from tests.support.lambda_driver import deliver, shard_batches
from tests.support.pipeline_events import mixed_batch

EVERY_FAULT = (
    "crash_before_apply:0.1,crash_after_apply:0.1,crash_before_emit:0.1,crash_after_emit:0.1,"
    "timeout:0.05,dynamo_throttle:0.1,output_throttle:0.1,s3_error:0.1,dlq_error:0.1"
)


def _run_dir(
    tmp_path: Path, pipeline: Pipeline, events: list[dict[str, Any]], design: str = c.EXACTLY_ONCE_DESIGNS[0]
) -> Path:
    """A run directory with the ground truth of `events` (under `design`'s duplicate scope) and the stores'
    names, as a run would leave it."""
    run_dir = tmp_path / "20261126T000000Z-faults"
    config = load_config({**pipeline.env, c.ENV_EXACTLY_ONCE: design})
    truth = truth_of_events(events, config, int(time.time() * 1000))
    truth.write(run_dir / GROUND_TRUTH_FILE)
    outputs = {
        c.OUTPUT_AGGREGATES_TABLE: pipeline.table,
        c.OUTPUT_ARCHIVE_BUCKET: BUCKET,
        c.OUTPUT_DLQ_URL: pipeline.dlq_url,
        c.OUTPUT_OUTPUT_STREAM_NAME: pipeline.output_stream,
    }
    (run_dir / "resources.json").write_text(json.dumps(outputs))
    return run_dir


@pytest.fixture
def events() -> list[dict[str, Any]]:
    payloads, _ = mixed_batch(240)
    return shard_batches(payloads, shards=2, batch_size=40)


@pytest.mark.parametrize(
    ("design", "bisect"),
    [("per_record", False), ("folded", False), ("folded", True), ("ledger", False), ("ledger", True)],
    ids=["per_record", "folded", "folded-bisect", "ledger", "ledger-bisect"],
)
def test_every_fault_kind_at_once_leaves_the_invariant_holding(
    design: str,
    bisect: bool,
    pipeline: Pipeline,
    events: list[dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the handler on the emulator's DynamoDB, S3, Kinesis and SQS with every fault switched on
    monkeypatch.setenv(c.ENV_EXACTLY_ONCE, design)
    configure_handler(handler_module, parse_faults(EVERY_FAULT, seed=5))
    # When each batch is re-delivered until it drains (bisected on function errors, or retried whole)
    invocations = sum(deliver(handler_module.handler, event, bisect=bisect) for event in events)
    assert invocations > len(events), "no fault fired: the test would prove nothing"
    run_dir = _run_dir(tmp_path, pipeline, events, design)
    capsys.readouterr()
    # Then `cdrcap verify` finds every CDR exactly once and exits 0
    code = main(["verify", "--run", str(run_dir), "--endpoint-url", pipeline_endpoint(pipeline), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert {check["name"] for check in report["checks"]} == {"aggregates", "dlq", "archive", "output"}
    assert (run_dir / "verify.json").exists()


def test_verify_exits_1_with_a_precise_diff_when_an_aggregate_is_off(
    pipeline: Pipeline,
    events: list[dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a clean run, then one aggregate item changed behind the pipeline's back
    for event in events:
        deliver(handler_module.handler, event)
    run_dir = _run_dir(tmp_path, pipeline, events)
    item = next(iter(pipeline.aggregates()))
    pipeline.dynamodb.update_item(
        TableName=pipeline.table,
        Key={c.TABLE_PARTITION_KEY: {"S": item[0]}, c.TABLE_SORT_KEY: {"S": item[1]}},
        UpdateExpression="ADD #r :one",
        ExpressionAttributeNames={"#r": "records"},
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    capsys.readouterr()
    # When verified, Then it exits 1 naming the item and the counter
    assert main(["verify", "--run", str(run_dir), "--endpoint-url", pipeline_endpoint(pipeline)]) == 1
    out = capsys.readouterr().out
    assert f"{item[0]} {item[1]} records: expected" in out and "invariant does NOT hold" in out


def test_verify_exits_2_without_ground_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "run").mkdir()
    assert main(["verify", "--run", str(tmp_path / "run"), "--endpoint-url", "http://127.0.0.1:9"]) == 2
    assert "ground truth" in capsys.readouterr().err


def pipeline_endpoint(pipeline: Pipeline) -> str:
    return str(pipeline.dynamodb.meta.endpoint_url)
