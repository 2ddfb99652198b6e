"""infra/pipeline.yaml deployed to the embedded emulator's CloudFormation: every resource is there."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.aws import Target, client
from infra.local.emulator import EmulatorProcess
from infra.package import build_lambda_zip
from pipeline import constants

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "pipeline.yaml"
PREFIX = "cdrft"
STACK = "cdrcap-ft"
CODE_BUCKET = "cdrcap-ft-code"
STACK_DEADLINE_S = 60.0


def _wait_for_stack(cfn: Any, stack_name: str) -> dict[str, Any]:
    end = time.monotonic() + STACK_DEADLINE_S
    while True:
        stack: dict[str, Any] = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > end:
            return stack
        time.sleep(0.2)


@pytest.fixture(scope="module")
def deployed(emulator: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The stack deployed once for the module, with the mapping disabled and the schema registry left out
    as the local stack does."""
    emulator.reset()
    target = Target(name="local", endpoint_url=emulator.endpoint_url, is_local=True)
    code_zip = build_lambda_zip(tmp_path_factory.mktemp("zip"), include_dependencies=False)
    s3 = client(target, "s3")
    s3.create_bucket(Bucket=CODE_BUCKET)
    s3.upload_file(str(code_zip), CODE_BUCKET, code_zip.name)
    cfn = client(target, "cloudformation")
    cfn.create_stack(
        StackName=STACK,
        TemplateBody=TEMPLATE.read_text(),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[
            {"ParameterKey": key, "ParameterValue": value}
            for key, value in {
                "ResourcePrefix": PREFIX,
                "CodeS3Bucket": CODE_BUCKET,
                "CodeS3Key": code_zip.name,
                "EnableEventSourceMapping": "false",
                "SchemaRegistry": "false",  # MiniStack's CloudFormation rejects AWS::Glue::* types
                "FraudTokenKey": "k" * 32,
                "ShardCount": "2",
            }.items()
        ],
    )
    stack = _wait_for_stack(cfn, STACK)
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
    yield {"target": target, "stack": stack, "outputs": outputs}
    emulator.reset()


def test_stack_reaches_create_complete(deployed: dict) -> None:
    assert deployed["stack"]["StackStatus"] == "CREATE_COMPLETE", deployed["stack"].get("StackStatusReason")


def test_outputs_carry_the_contract_names(deployed: dict) -> None:
    outputs = deployed["outputs"]
    assert outputs[constants.OUTPUT_INPUT_STREAM_NAME] == f"{PREFIX}-{constants.INPUT_STREAM_SUFFIX}"
    assert outputs[constants.OUTPUT_OUTPUT_STREAM_NAME] == f"{PREFIX}-{constants.OUTPUT_STREAM_SUFFIX}"
    assert outputs[constants.OUTPUT_AGGREGATES_TABLE] == f"{PREFIX}-{constants.AGGREGATES_TABLE_SUFFIX}"
    assert outputs[constants.OUTPUT_ALERT_BUS] == f"{PREFIX}-{constants.ALERT_BUS_SUFFIX}"
    assert outputs[constants.OUTPUT_FUNCTION_NAME] == f"{PREFIX}-{constants.FUNCTION_SUFFIX}"
    assert outputs[constants.OUTPUT_DLQ_URL].endswith(f"/{PREFIX}-{constants.DLQ_SUFFIX}")
    assert outputs[constants.OUTPUT_DLQ_ARN].endswith(f":{PREFIX}-{constants.DLQ_SUFFIX}")
    assert outputs[constants.OUTPUT_ARCHIVE_BUCKET].startswith(f"{PREFIX}-{constants.ARCHIVE_BUCKET_SUFFIX}-")
    assert outputs[constants.OUTPUT_INPUT_STREAM_ARN].endswith(f"stream/{PREFIX}-cdr-in")
    assert outputs[constants.OUTPUT_OUTPUT_STREAM_ARN].endswith(f"stream/{PREFIX}-cdr-out")


def test_input_stream_has_the_requested_shards(deployed: dict) -> None:
    # MiniStack accepts StreamEncryption but leaves EncryptionType NONE (docs/deploy.md), so encryption
    # is asserted on the template (tests/unit/test_infra_pipeline_template.py), not here.
    kinesis = client(deployed["target"], "kinesis")
    summary = kinesis.describe_stream_summary(
        StreamName=deployed["outputs"][constants.OUTPUT_INPUT_STREAM_NAME]
    )["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 2
    assert summary["StreamStatus"] == "ACTIVE"


def test_table_has_the_contract_key_schema(deployed: dict) -> None:
    dynamodb = client(deployed["target"], "dynamodb")
    table = dynamodb.describe_table(TableName=deployed["outputs"][constants.OUTPUT_AGGREGATES_TABLE])["Table"]
    keys = {item["KeyType"]: item["AttributeName"] for item in table["KeySchema"]}
    assert keys == {"HASH": constants.TABLE_PARTITION_KEY, "RANGE": constants.TABLE_SORT_KEY}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_bucket_blocks_public_access_and_has_a_tls_only_policy(deployed: dict) -> None:
    s3 = client(deployed["target"], "s3")
    bucket = deployed["outputs"][constants.OUTPUT_ARCHIVE_BUCKET]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert "aws:SecureTransport" in s3.get_bucket_policy(Bucket=bucket)["Policy"]


def test_dlq_keeps_messages_14_days(deployed: dict) -> None:
    sqs = client(deployed["target"], "sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=deployed["outputs"][constants.OUTPUT_DLQ_URL], AttributeNames=["MessageRetentionPeriod"]
    )["Attributes"]
    assert attributes["MessageRetentionPeriod"] == "1209600"


def test_alert_bus_exists(deployed: dict) -> None:
    events = client(deployed["target"], "events")
    bus = events.describe_event_bus(Name=deployed["outputs"][constants.OUTPUT_ALERT_BUS])
    assert bus["Name"] == f"{PREFIX}-{constants.ALERT_BUS_SUFFIX}"


def test_function_has_every_contract_env_var_and_a_readable_mapping(deployed: dict) -> None:
    lambda_ = client(deployed["target"], "lambda")
    name = deployed["outputs"][constants.OUTPUT_FUNCTION_NAME]
    configuration = lambda_.get_function_configuration(FunctionName=name)
    env_names = set(configuration["Environment"]["Variables"])
    expected = {value for key, value in vars(constants).items() if key.startswith("ENV_")}
    assert env_names == expected
    assert configuration["Handler"] == "pipeline.handler.handler"
    # EnableEventSourceMapping=false keeps the mapping (created disabled): its settings stay readable
    mappings = lambda_.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert [m["EventSourceArn"] for m in mappings] == [deployed["outputs"][constants.OUTPUT_INPUT_STREAM_ARN]]
    assert mappings[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_function_role_and_log_group_exist(deployed: dict) -> None:
    lambda_ = client(deployed["target"], "lambda")
    role_arn = lambda_.get_function_configuration(
        FunctionName=deployed["outputs"][constants.OUTPUT_FUNCTION_NAME]
    )["Role"]
    role = client(deployed["target"], "iam").get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]
    assert "lambda.amazonaws.com" in str(role["AssumeRolePolicyDocument"])
    groups = client(deployed["target"], "logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/lambda/{PREFIX}-"
    )
    assert [group["logGroupName"] for group in groups["logGroups"]] == [f"/aws/lambda/{PREFIX}-cdr-processor"]


def test_alarms_and_dashboard_exist(deployed: dict) -> None:
    cloudwatch = client(deployed["target"], "cloudwatch")
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=f"{PREFIX}-")["MetricAlarms"]
    metrics = {alarm["MetricName"] for alarm in alarms}
    assert {
        "IteratorAge",
        "Errors",
        "Throttles",
        "ApproximateNumberOfMessagesVisible",
        "WriteProvisionedThroughputExceeded",
    } <= metrics
    assert cloudwatch.get_dashboard(DashboardName=f"{PREFIX}-capacity")["DashboardBody"]
