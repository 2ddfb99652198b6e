"""`cdrcap up/status/down` and LocalStack: the local stack starts, serves, and stops without leftovers."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from cdrcap.cli import main
from infra.local.emulator import pid_alive
from infra.local.stack import LocalStack, LocalStackConfig, LocalStackError, StackInfo
from tests.support.local_esm_harness import wait_for
from tests.support.local_handlers import OUT_ENV
from tests.support.local_stack import TEMPLATE, two_free_ports


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.fixture
def stack(tmp_path: Path, out_dir: Path) -> Iterator[tuple[LocalStack, StackInfo]]:
    local = LocalStack(tmp_path / "state")
    config = LocalStackConfig(
        shards=2,
        port=two_free_ports(),
        template_path=str(TEMPLATE),
        handler="tests.support.local_handlers.record",
        handler_env={OUT_ENV: str(out_dir)},
    )
    info = local.up(config)
    try:
        yield local, info
    finally:
        if local.status() is not None:
            local.down()


def test_up_serves_the_pipeline_and_down_leaves_no_process(
    stack: tuple[LocalStack, StackInfo], out_dir: Path
) -> None:
    local, info = stack
    # Given a running stack, when records go in through the limits proxy
    kinesis = boto3.client(
        "kinesis",
        endpoint_url=info.kinesis_endpoint_url,
        region_name=info.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    kinesis.put_records(
        StreamName=info.input_stream_name,
        Records=[{"PartitionKey": str(i), "Data": b"cdr"} for i in range(20)],
    )
    # Then the runtime's worker processes handle them
    log = out_dir / "invocations.jsonl"
    lines = wait_for(
        lambda: (
            log.exists()
            and (rows := [json.loads(x) for x in log.read_text().splitlines()])
            and sum(len(r["sequence_numbers"]) for r in rows) >= 20
            and rows
        )
    )
    workers = {row["pid"] for row in lines}
    printed = Path(info.handler_log_path).read_text().splitlines()
    assert sum(json.loads(line)["records"] for line in printed) == 20
    assert all(local.alive().values())
    # When the stack goes down, then no process of it is left, workers included
    outcome = local.down()
    assert outcome == {"esm": "stopped", "proxy": "stopped", "glue": "stopped", "emulator": "stopped"}
    assert not [pid for pid in [*info.pids.values(), *workers] if pid_alive(pid)]
    assert local.status() is None


def test_up_twice_is_refused_with_the_fix(stack: tuple[LocalStack, StackInfo]) -> None:
    local, info = stack
    with pytest.raises(LocalStackError, match=r"already up.*cdrcap down"):
        local.up(info.config)


def test_restarting_an_emulator_without_persistence_is_refused_with_the_fix(
    stack: tuple[LocalStack, StackInfo],
) -> None:
    # Given a stack whose emulator keeps its state only in memory (the default)
    local, info = stack
    # When asked to restart the emulator
    with pytest.raises(LocalStackError, match=r"without persistence.*persist_emulator=True"):
        local.restart_emulator()
    # Then nothing was stopped
    assert local.alive() == {name: True for name in info.pids}


def test_status_json_gives_endpoints_and_every_resource(
    stack: tuple[LocalStack, StackInfo], capsys: pytest.CaptureFixture[str]
) -> None:
    local, info = stack
    assert main(["status", "--json", "--state-dir", str(local.state_dir)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["kinesis_endpoint_url"] == info.kinesis_endpoint_url
    assert printed["dlq_url"].endswith("/cdrcap-dlq")
    assert printed["input_stream_arn"].endswith(":stream/cdrcap-cdr-in")
    assert printed["running"] == {"emulator": True, "proxy": True, "esm": True, "glue": True}
    assert printed["glue_endpoint_url"] == info.glue_endpoint_url


def test_down_with_nothing_up_exits_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["down", "--state-dir", str(tmp_path)]) == 2
    assert "nothing is up" in capsys.readouterr().err


def test_up_on_a_port_in_use_exits_2_with_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        arguments = ["up", "--port", str(port), "--handler", "tests.support.local_handlers.noop"]
        assert main([*arguments, "--state-dir", str(tmp_path)]) == 2
    assert f"port {port} on 127.0.0.1 is in use" in capsys.readouterr().err


def test_up_deploys_the_pipeline_template_with_ministacks_mapping_disabled(tmp_path: Path) -> None:
    # Given the real infra/pipeline.yaml
    local = LocalStack(tmp_path / "state")
    info = local.up(
        LocalStackConfig(shards=1, port=two_free_ports(), handler="tests.support.local_handlers.noop")
    )
    try:
        session = boto3.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name=info.region
        )
        # Then MiniStack's mapping is disabled (the local runtime runs it) with the stack's settings,
        mappings = session.client("lambda", endpoint_url=info.endpoint_url).list_event_source_mappings()
        assert [(m["State"], m["BatchSize"]) for m in mappings["EventSourceMappings"]] == [
            ("Disabled", info.config.batch_size)
        ]
        # the table's TTL is on,
        ttl = session.client("dynamodb", endpoint_url=info.endpoint_url).describe_time_to_live(
            TableName=info.aggregates_table
        )
        assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] in ("ENABLED", "ENABLING")
        # and the handler gets the function's environment as the template defines it
        esm = json.loads((local.state_dir / "esm.json").read_text())
        assert esm["handler_env"]["CDRCAP_MAX_RECORD_BYTES"]
        assert esm["handler_env"]["CDRCAP_AGGREGATES_TABLE"] == info.aggregates_table
        # and the Glue Schema Registry MiniStack lacks is served beside it with both CDR schema versions
        assert esm["handler_env"]["AWS_ENDPOINT_URL_GLUE"] == info.glue_endpoint_url
        glue = session.client("glue", endpoint_url=info.glue_endpoint_url)
        schema = glue.get_schema(SchemaId={"RegistryName": "cdrcap-schemas", "SchemaName": "cdr"})
        assert schema["LatestSchemaVersion"] == 2 and schema["Compatibility"] == "BACKWARD"
    finally:
        local.down()


def test_up_with_a_handler_that_cannot_be_imported_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["up", "--handler", "no_such_package.handler.handler", "--state-dir", str(tmp_path)]
    assert main(arguments) == 2
    assert "'no_such_package.handler' (from 'no_such_package.handler.handler') cannot be imported" in (
        capsys.readouterr().err
    )


def test_up_with_a_setting_outside_lambdas_range_exits_2_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["up", "--batch-size", "0", "--handler", "tests.support.local_handlers.noop"]
    assert main([*arguments, "--state-dir", str(tmp_path)]) == 2
    assert "batch_size=0 is outside Lambda's range 1..10000" in capsys.readouterr().err
    assert not (tmp_path / "state.json").exists()
