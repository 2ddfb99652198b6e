"""infra/deploy.py and `cdrcap deploy` against the embedded emulator's CloudFormation (change sets)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from cdrcap.cli import main
from infra.aws import Target, client
from infra.deploy import DeployError, StackDeployer
from infra.local.emulator import EmulatorProcess
from infra.package import build_lambda_zip, sha256_of
from infra.template import PIPELINE_TEMPLATE

CODE_BUCKET = "cdrcap-deploy-ft-code"


@pytest.fixture
def target(clean_emulator: EmulatorProcess) -> Target:
    return Target(name="local", endpoint_url=clean_emulator.endpoint_url, is_local=True)


@pytest.fixture
def code_params(target: Target, tmp_path: Path) -> dict[str, str]:
    code_zip = build_lambda_zip(tmp_path, include_dependencies=False)
    s3 = client(target, "s3")
    s3.create_bucket(Bucket=CODE_BUCKET)
    s3.upload_file(str(code_zip), CODE_BUCKET, code_zip.name)
    return {
        "CodeS3Bucket": CODE_BUCKET,
        "CodeS3Key": code_zip.name,
        "EnableEventSourceMapping": "false",
        "SchemaRegistry": "false",  # MiniStack's CloudFormation rejects AWS::Glue::* types
        "FraudTokenKey": "k" * 32,
    }


@pytest.fixture
def deployer(target: Target) -> StackDeployer:
    return StackDeployer(client(target, "cloudformation"), poll_interval_s=0.1, timeout_s=60)


def test_first_deploy_creates_the_stack_through_a_change_set(
    deployer: StackDeployer, code_params: dict[str, str]
) -> None:
    # Given no stack, When the pipeline template is deployed
    result = deployer.deploy("dep1", PIPELINE_TEMPLATE.read_text(), {"ResourcePrefix": "dep1", **code_params})
    # Then a CREATE change set ran to completion and the contract outputs are returned
    assert (result.change_set_type, result.status) == ("CREATE", "CREATE_COMPLETE")
    assert any(change.logical_id == "Function" and change.action == "Add" for change in result.changes)
    assert result.outputs["InputStreamName"] == "dep1-cdr-in"


def test_changed_parameter_updates_only_what_depends_on_it(
    deployer: StackDeployer, code_params: dict[str, str], target: Target
) -> None:
    template = PIPELINE_TEMPLATE.read_text()
    # Given the pipeline with provisioned concurrency, so the mapping invokes an alias on a version
    deployer.deploy(
        "dep2", template, {"ResourcePrefix": "dep2", "ProvisionedConcurrency": "1", **code_params}
    )
    lambda_client = client(target, "lambda")
    assert lambda_client.get_alias(FunctionName="dep2-cdr-processor", Name="live")["FunctionVersion"] == "1"
    # When only MemorySize is given, the other parameters keep their previous values
    result = deployer.deploy("dep2", template, {"MemorySize": "1024"})
    assert (result.change_set_type, result.status) == ("UPDATE", "UPDATE_COMPLETE")
    # Then the function, a new published version and the alias on it change (the emulator also lists the
    # mapping and the dashboard that refer to them); no stream, table, bucket or queue
    changed = {change.logical_id for change in result.changes}
    assert {"Function", "FunctionVersion", "FunctionAlias"} <= changed
    referring = {"EventSourceMapping", "CapacityDashboard"}
    assert changed <= {"Function", "FunctionVersion", "FunctionAlias", *referring}
    assert {change.action for change in result.changes} == {"Modify"}
    assert result.outputs["FunctionName"] == "dep2-cdr-processor"
    # And the mapping's alias now runs version 2, at the new memory size
    alias = lambda_client.get_alias(FunctionName="dep2-cdr-processor", Name="live")
    assert alias["FunctionVersion"] == "2"
    assert lambda_client.get_function_configuration(FunctionName=alias["AliasArn"])["MemorySize"] == 1024
    mappings = lambda_client.list_event_source_mappings(FunctionName="dep2-cdr-processor")
    assert [m["FunctionArn"] for m in mappings["EventSourceMappings"]] == [alias["AliasArn"]]
    # And an environment-only setting in the version's description publishes version 3
    deployer.deploy("dep2", template, {"LogLevel": "DEBUG"})
    alias = lambda_client.get_alias(FunctionName="dep2-cdr-processor", Name="live")
    assert alias["FunctionVersion"] == "3"
    configuration = lambda_client.get_function_configuration(FunctionName=alias["AliasArn"])
    assert configuration["Environment"]["Variables"]["CDRCAP_LOG_LEVEL"] == "DEBUG"


def test_without_provisioned_concurrency_the_mapping_invokes_the_function(
    deployer: StackDeployer, code_params: dict[str, str], target: Target
) -> None:
    # Given the pipeline with the default ProvisionedConcurrency 0
    result = deployer.deploy(
        "dep12", PIPELINE_TEMPLATE.read_text(), {"ResourcePrefix": "dep12", **code_params}
    )
    # Then there is no alias, and the mapping invokes the function, so an environment update runs at once
    assert "FunctionAliasArn" not in result.outputs
    mappings = client(target, "lambda").list_event_source_mappings(FunctionName="dep12-cdr-processor")
    assert [m["FunctionArn"] for m in mappings["EventSourceMappings"]] == [result.outputs["FunctionArn"]]


def test_provisioned_concurrency_sits_on_the_alias(
    deployer: StackDeployer, code_params: dict[str, str], target: Target
) -> None:
    # Given the pipeline deployed with provisioned concurrency 2 (as `cdrcap plan --emit-params` may ask)
    parameters = {"ResourcePrefix": "dep9", "ProvisionedConcurrency": "2", **code_params}
    result = deployer.deploy("dep9", PIPELINE_TEMPLATE.read_text(), parameters)
    assert result.status == "CREATE_COMPLETE"
    # Then the alias the mapping invokes carries it
    lambda_client = client(target, "lambda")
    configuration = lambda_client.get_provisioned_concurrency_config(
        FunctionName="dep9-cdr-processor", Qualifier="live"
    )
    assert configuration["RequestedProvisionedConcurrentExecutions"] == 2


def test_redeploying_the_same_parameters_reports_no_changes(
    deployer: StackDeployer, code_params: dict[str, str]
) -> None:
    template = PIPELINE_TEMPLATE.read_text()
    parameters = {"ResourcePrefix": "dep3", **code_params}
    deployer.deploy("dep3", template, parameters)
    result = deployer.deploy("dep3", template, parameters)
    assert result.status == "NO_CHANGES"
    assert result.outputs["AlertBusName"] == "dep3-alerts"


def test_declined_change_set_leaves_no_stack(
    deployer: StackDeployer, code_params: dict[str, str], target: Target
) -> None:
    result = deployer.deploy(
        "dep4",
        PIPELINE_TEMPLATE.read_text(),
        {"ResourcePrefix": "dep4", **code_params},
        confirm=lambda _kind, _changes: False,
    )
    assert result.status == "CANCELLED"
    stacks = client(target, "cloudformation").list_stacks()["StackSummaries"]
    assert [s for s in stacks if s["StackName"] == "dep4" and s["StackStatus"] != "DELETE_COMPLETE"] == []


def test_unknown_parameter_is_named_before_anything_is_created(
    deployer: StackDeployer, code_params: dict[str, str]
) -> None:
    with pytest.raises(DeployError, match="BatchSzie"):
        deployer.deploy("dep5", PIPELINE_TEMPLATE.read_text(), {"BatchSzie": "10", **code_params})


def test_value_outside_the_allowed_values_fails_with_the_reason(
    deployer: StackDeployer, code_params: dict[str, str]
) -> None:
    with pytest.raises(DeployError, match="StreamMode"):
        deployer.deploy("dep6", PIPELINE_TEMPLATE.read_text(), {"StreamMode": "SOMETIMES", **code_params})


def test_cli_deploys_with_a_params_file(
    clean_emulator: EmulatorProcess,
    aws_session: object,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a configured target that is the emulator standing in for an AWS account,
    # and a params file as `cdrcap plan --emit-params` writes it
    config = tmp_path / "cdrcap.toml"
    config.write_text(
        f'[targets.emu]\nregion = "us-east-1"\nendpoint_url = "{clean_emulator.endpoint_url}"\n'
    )
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"Parameters": {"ResourcePrefix": "clidep", "ShardCount": 3}}))
    code_zip = build_lambda_zip(tmp_path, include_dependencies=False)
    # When deployed from the command line
    argv = ["deploy", "--target", "emu", "--config", str(config), "--params", str(params)]
    argv += ["--param", "EnableEventSourceMapping=false", "--param", "SchemaRegistry=false"]
    argv += ["--zip", str(code_zip), "--yes", "--json"]
    code = main(argv)
    # Then the zip went to the artifacts bucket under its hash and the stack exists with 3 shards
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "CREATE_COMPLETE"
    target = Target(name="emu", endpoint_url=clean_emulator.endpoint_url, is_local=True)
    kinesis = client(target, "kinesis")
    summary = kinesis.describe_stream_summary(StreamName=result["outputs"]["InputStreamName"])
    assert summary["StreamDescriptionSummary"]["OpenShardCount"] == 3
    keys = client(target, "s3").list_objects_v2(Bucket="clidep-artifacts-000000000000-us-east-1")["Contents"]
    assert [item["Key"] for item in keys] == [f"lambda/{sha256_of(code_zip)}.zip"]


def test_failed_create_names_the_failing_resource_and_the_rollback(
    deployer: StackDeployer, code_params: dict[str, str]
) -> None:
    # Given a stack that already owns the physical names of prefix "taken"
    template = PIPELINE_TEMPLATE.read_text()
    deployer.deploy("owner", template, {"ResourcePrefix": "taken", **code_params})
    # When a second stack claims the same names, Then the error says what failed and how it was left
    with pytest.raises(DeployError) as failure:
        deployer.deploy("intruder", template, {"ResourcePrefix": "taken", **code_params})
    message = str(failure.value)
    assert "ROLLBACK_COMPLETE" in message and "delete it" in message
    assert "  intruder: " in message  # the failed resources with CloudFormation's reason


def test_rolled_back_stack_is_refused_with_the_fix(
    deployer: StackDeployer, code_params: dict[str, str]
) -> None:
    template = PIPELINE_TEMPLATE.read_text()
    deployer.deploy("first", template, {"ResourcePrefix": "clash", **code_params})
    with pytest.raises(DeployError):
        deployer.deploy("second", template, {"ResourcePrefix": "clash", **code_params})
    with pytest.raises(DeployError, match="delete-stack --stack-name second"):
        deployer.deploy("second", template, {"ResourcePrefix": "clash2", **code_params})


def test_cli_refuses_a_zip_built_for_the_other_architecture(
    clean_emulator: EmulatorProcess, aws_session: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "cdrcap.toml"
    config.write_text(
        f'[targets.emu]\nregion = "us-east-1"\nendpoint_url = "{clean_emulator.endpoint_url}"\n'
    )
    x86_zip = tmp_path / "x86.zip"
    with zipfile.ZipFile(x86_zip, "w") as archive:
        archive.writestr("orjson/orjson.cpython-312-x86_64-linux-gnu.so", b"")
    argv = ["deploy", "--target", "emu", "--config", str(config), "--zip", str(x86_zip), "--yes"]
    assert main([*argv, "--param", "Architecture=arm64"]) == 2
    assert "cdrcap package --architecture arm64" in capsys.readouterr().err


def test_cli_deploys_the_scaler_stack_wired_to_the_pipeline(
    clean_emulator: EmulatorProcess,
    aws_session: object,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a params file holding pipeline parameters and the scaler's policy (as `plan --traffic` writes it)
    config = tmp_path / "cdrcap.toml"
    config.write_text(
        f'[targets.emu]\nregion = "us-east-1"\nendpoint_url = "{clean_emulator.endpoint_url}"\n'
    )
    policy = json.dumps({"iterator_age_high_ms": 15000})
    params = tmp_path / "params.json"
    params.write_text(
        json.dumps({"Parameters": {"ResourcePrefix": "scl", "ShardCount": 2, "ScalerPolicyJson": policy}})
    )
    code_zip = build_lambda_zip(tmp_path, include_dependencies=False)
    # When both stacks are deployed from the command line, the scaler as a rehearsal (schedule off)
    argv = ["deploy", "--target", "emu", "--config", str(config), "--params", str(params), "--scaler"]
    argv += ["--param", "EnableEventSourceMapping=false", "--param", "ScalerEnabled=false"]
    argv += ["--param", "SchemaRegistry=false"]
    argv += ["--zip", str(code_zip), "--yes"]
    assert main(argv) == 0
    capsys.readouterr()
    # Then the scaler stack exists beside the pipeline's, its function points at this stack's stream,
    # function and mapping, and carries the policy; the pipeline stack did not receive the scaler's parameter
    target = Target(name="emu", endpoint_url=clean_emulator.endpoint_url, is_local=True)
    cfn = client(target, "cloudformation")
    pipeline = cfn.describe_stacks(StackName="scl")["Stacks"][0]
    outputs = {item["OutputKey"]: item["OutputValue"] for item in pipeline["Outputs"]}
    assert "ScalerPolicyJson" not in {item["ParameterKey"] for item in pipeline["Parameters"]}
    scaler = cfn.describe_stacks(StackName="scl-scaler")["Stacks"][0]
    assert scaler["StackStatus"] == "CREATE_COMPLETE"
    lambda_ = client(target, "lambda")
    env = lambda_.get_function_configuration(FunctionName="scl-scaler")["Environment"]["Variables"]
    assert env["CDRCAP_STREAM_NAME"] == outputs["InputStreamName"] == "scl-cdr-in"
    assert env["CDRCAP_FUNCTION_NAME"] == outputs["FunctionName"]
    mapping = lambda_.get_event_source_mapping(UUID=outputs["EventSourceMappingId"])
    assert env["CDRCAP_MAPPING_UUID"] == mapping["UUID"]
    assert json.loads(env["CDRCAP_SCALER_POLICY"]) == {"iterator_age_high_ms": 15000}
    rule = client(target, "events").describe_rule(Name=scaler_rule_name(cfn, "scl-scaler"))
    assert rule["State"] == "DISABLED"


def scaler_rule_name(cfn: object, stack_name: str) -> str:
    resources = cfn.describe_stack_resources(StackName=stack_name)["StackResources"]  # type: ignore[attr-defined]
    return next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "EveryMinute")
