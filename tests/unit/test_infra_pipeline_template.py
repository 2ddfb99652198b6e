"""infra/pipeline.yaml read as data: encryption everywhere, least privilege, wiring to parameters, names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint
from cfnlint.decode.cfn_yaml import load

from pipeline import constants
from pipeline.avro_cdr import schema_definition, schema_text

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "infra" / "pipeline.yaml"

CONTRACT_PARAMETERS = {
    "ResourcePrefix",
    "StreamMode",
    "ShardCount",
    "RetentionPeriodHours",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "ParallelizationFactor",
    "MemorySize",
    "Architecture",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "FunctionTimeoutSeconds",
    "HomeRegion",
    "CodeS3Bucket",
    "CodeS3Key",
    "EnableEventSourceMapping",
    "AggregateTtlSeconds",
    "IteratorAgeAlarmMs",
    "StartingPosition",
    "ConsumerMode",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = load(str(TEMPLATE_PATH))
    return loaded


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def _one(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    found = list(_resources(template, resource_type).values())
    assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
    properties: dict[str, Any] = found[0]["Properties"]
    return properties


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_template_declares_every_contract_parameter(template: dict[str, Any]) -> None:
    assert set(template["Parameters"]) >= CONTRACT_PARAMETERS


def test_outputs_are_the_contract_keys(template: dict[str, Any]) -> None:
    contract = {
        value
        for key, value in vars(constants).items()
        if key.startswith("OUTPUT_") and not key.endswith("_SUFFIX")
    }
    assert contract <= set(template["Outputs"])


def test_function_env_var_names_equal_the_constants(template: dict[str, Any]) -> None:
    function = _one(template, "AWS::Lambda::Function")
    expected = {value for key, value in vars(constants).items() if key.startswith("ENV_")}
    assert set(function["Environment"]["Variables"]) == expected


@pytest.mark.parametrize(
    ("resource_type", "name_property", "suffix"),
    [
        ("AWS::Lambda::Function", "FunctionName", constants.FUNCTION_SUFFIX),
        ("AWS::DynamoDB::Table", "TableName", constants.AGGREGATES_TABLE_SUFFIX),
        ("AWS::SQS::Queue", "QueueName", constants.DLQ_SUFFIX),
        ("AWS::Events::EventBus", "Name", constants.ALERT_BUS_SUFFIX),
    ],
)
def test_physical_names_use_the_shared_suffixes(
    template: dict[str, Any], resource_type: str, name_property: str, suffix: str
) -> None:
    assert _one(template, resource_type)[name_property] == {"Fn::Sub": f"${{ResourcePrefix}}-{suffix}"}


def test_stream_names_use_the_shared_suffixes(template: dict[str, Any]) -> None:
    names = {
        stream["Properties"]["Name"]["Fn::Sub"]
        for stream in _resources(template, "AWS::Kinesis::Stream").values()
    }
    assert names == {
        f"${{ResourcePrefix}}-{constants.INPUT_STREAM_SUFFIX}",
        f"${{ResourcePrefix}}-{constants.OUTPUT_STREAM_SUFFIX}",
    }


def test_bucket_name_follows_the_contract(template: dict[str, Any]) -> None:
    bucket = _one(template, "AWS::S3::Bucket")
    suffix = constants.ARCHIVE_BUCKET_SUFFIX
    assert bucket["BucketName"] == {
        "Fn::Sub": f"${{ResourcePrefix}}-{suffix}-${{AWS::AccountId}}-${{AWS::Region}}"
    }


def test_every_stream_is_kms_encrypted(template: dict[str, Any]) -> None:
    streams = _resources(template, "AWS::Kinesis::Stream")
    assert len(streams) == 2
    for stream in streams.values():
        assert stream["Properties"]["StreamEncryption"] == {
            "EncryptionType": "KMS",
            "KeyId": "alias/aws/kinesis",
        }


def test_table_is_encrypted_recoverable_and_expires_items(template: dict[str, Any]) -> None:
    table = _one(template, "AWS::DynamoDB::Table")
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["TimeToLiveSpecification"] == {
        "AttributeName": constants.TABLE_TTL_ATTRIBUTE,
        "Enabled": True,
    }
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    keys = {item["KeyType"]: item["AttributeName"] for item in table["KeySchema"]}
    assert keys == {"HASH": constants.TABLE_PARTITION_KEY, "RANGE": constants.TABLE_SORT_KEY}


def test_bucket_is_encrypted_private_and_tiered(template: dict[str, Any]) -> None:
    bucket = _one(template, "AWS::S3::Bucket")
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    lifecycle = bucket["LifecycleConfiguration"]["Rules"][0]
    assert lifecycle["Transitions"] and "ExpirationInDays" in lifecycle


def test_bucket_policy_denies_plain_http(template: dict[str, Any]) -> None:
    policy = _one(template, "AWS::S3::BucketPolicy")
    statements = policy["PolicyDocument"]["Statement"]
    assert any(
        statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in statements
    )


def test_dlq_is_encrypted_and_keeps_messages_14_days(template: dict[str, Any]) -> None:
    queue = _one(template, "AWS::SQS::Queue")
    assert queue.get("SqsManagedSseEnabled") is True or queue.get("KmsMasterKeyId") == "alias/aws/sqs"
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600


def _role_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    roles = _resources(template, "AWS::IAM::Role")
    assert len(roles) == 1, "the stack has exactly one IAM role"
    role = next(iter(roles.values()))["Properties"]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    # A conditional statement (Fn::If [condition, statement, AWS::NoValue]) is checked as its statement.
    return [s["Fn::If"][1] if "Fn::If" in s else s for s in statements]


def test_role_has_no_wildcard_action(template: dict[str, Any]) -> None:
    for statement in _role_statements(template):
        for action in _as_list(statement["Action"]):
            assert "*" not in action, f"{statement['Sid']} allows {action}"


def test_role_resources_are_scoped_to_this_stack(template: dict[str, Any]) -> None:
    resource_names = set(template["Resources"])
    for statement in _role_statements(template):
        assert statement["Effect"] == "Allow"
        for resource in _as_list(statement["Resource"]):
            # Every resource is an attribute of (or an ARN built from) a resource of this template.
            assert resource != "*", f"{statement['Sid']} is unscoped"
            if "Fn::GetAtt" in resource:
                assert resource["Fn::GetAtt"][0] in resource_names
            else:
                text = resource["Fn::Sub"]
                referenced = text.split("${", 1)[1].split(".", 1)[0]
                assert referenced in resource_names, f"{statement['Sid']} names {text}"


MAPPING_WIRING = {
    "BatchSize": "BatchSize",
    "MaximumBatchingWindowInSeconds": "MaximumBatchingWindowInSeconds",
    "ParallelizationFactor": "ParallelizationFactor",
    "MaximumRetryAttempts": "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds": "MaximumRecordAgeInSeconds",
    "StartingPosition": "StartingPosition",
}


@pytest.mark.parametrize(("property_name", "parameter"), sorted(MAPPING_WIRING.items()))
def test_mapping_settings_are_wired_to_parameters(
    template: dict[str, Any], property_name: str, parameter: str
) -> None:
    mapping = _one(template, "AWS::Lambda::EventSourceMapping")
    assert mapping[property_name] == {"Ref": parameter}


def test_mapping_reports_partial_failures_bisects_and_dead_letters(template: dict[str, Any]) -> None:
    mapping = _one(template, "AWS::Lambda::EventSourceMapping")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }
    assert mapping["MetricsConfig"] == {"Metrics": ["EventCount"]}


def test_mapping_is_disabled_not_left_out_and_consumer_is_conditional(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    # EnableEventSourceMapping=false keeps the mapping (its settings readable from the Lambda API) disabled
    assert "Condition" not in resources["EventSourceMapping"]
    assert resources["EventSourceMapping"]["Properties"]["Enabled"] == {
        "Fn::If": ["MappingEnabled", True, False]
    }
    assert resources["StreamConsumer"]["Condition"] == "IsEfo"
    assert template["Parameters"]["ConsumerMode"]["Default"] == "shared"


def test_function_settings_are_wired_to_parameters(template: dict[str, Any]) -> None:
    function = _one(template, "AWS::Lambda::Function")
    assert function["MemorySize"] == {"Ref": "MemorySize"}
    assert function["Timeout"] == {"Ref": "FunctionTimeoutSeconds"}
    assert function["Architectures"] == [{"Ref": "Architecture"}]
    assert function["Handler"] == "pipeline.handler.handler"
    major, minor = function["Runtime"].removeprefix("python").split(".")
    assert (int(major), int(minor)) >= (3, 12)


def test_required_alarms_exist(template: dict[str, Any]) -> None:
    alarms = _resources(template, "AWS::CloudWatch::Alarm").values()
    metrics = {alarm["Properties"]["MetricName"] for alarm in alarms}
    assert metrics >= {
        "IteratorAge",
        "Errors",
        "Throttles",
        "ApproximateNumberOfMessagesVisible",
        "WriteProvisionedThroughputExceeded",
    }


def test_efo_mode_maps_the_function_to_the_stream_consumer(template: dict[str, Any]) -> None:
    # Given ConsumerMode=efo, the mapping reads through the registered consumer, not the stream itself
    resources = template["Resources"]
    assert template["Conditions"]["IsEfo"] == {"Fn::Equals": [{"Ref": "ConsumerMode"}, "efo"]}
    assert template["Parameters"]["ConsumerMode"]["AllowedValues"] == ["shared", "efo"]
    consumer = resources["StreamConsumer"]
    assert consumer["Type"] == "AWS::Kinesis::StreamConsumer"
    assert consumer["Properties"]["StreamARN"] == {"Fn::GetAtt": ["InputStream", "Arn"]}
    assert resources["EventSourceMapping"]["Properties"]["EventSourceArn"] == {
        "Fn::If": [
            "IsEfo",
            {"Fn::GetAtt": ["StreamConsumer", "ConsumerARN"]},
            {"Fn::GetAtt": ["InputStream", "Arn"]},
        ]
    }


def test_efo_consumer_name_is_the_one_the_role_may_subscribe_with(template: dict[str, Any]) -> None:
    consumer_name = template["Resources"]["StreamConsumer"]["Properties"]["ConsumerName"]["Fn::Sub"]
    statements = _one(template, "AWS::IAM::Role")["Policies"][0]["PolicyDocument"]["Statement"]
    fan_out = next(s for s in statements if "kinesis:SubscribeToShard" in s["Action"])
    assert fan_out["Resource"] == {"Fn::Sub": f"${{InputStream.Arn}}/consumer/{consumer_name}:*"}


def test_efo_path_passes_cfn_lint() -> None:
    # Given the template with ConsumerMode defaulting to efo (cfn-lint resolves the defaults' path)
    text = TEMPLATE_PATH.read_text()
    shared_default = "    Default: shared\n    AllowedValues: [shared, efo]"
    assert shared_default in text
    efo = text.replace(shared_default, "    Default: efo\n    AllowedValues: [shared, efo]")
    # Then cfn-lint finds nothing
    assert [str(match) for match in lint(efo, config=ManualArgs(regions=["us-east-1"]))] == []


def test_mapping_invokes_an_alias_on_a_published_version_only_with_provisioned_concurrency(
    template: dict[str, Any],
) -> None:
    resources = template["Resources"]
    # Given what the mapping invokes: the alias with PC (PC sits on a version or an alias), else the function
    assert resources["EventSourceMapping"]["Properties"]["FunctionName"] == {
        "Fn::If": ["HasProvisionedConcurrency", {"Ref": "FunctionAlias"}, {"Ref": "Function"}]
    }
    assert resources["FunctionAlias"]["Condition"] == resources["FunctionVersion"]["Condition"]
    assert resources["FunctionAlias"]["Condition"] == "HasProvisionedConcurrency"
    alias = _one(template, "AWS::Lambda::Alias")
    version = _one(template, "AWS::Lambda::Version")
    assert alias["FunctionName"] == {"Ref": "Function"}
    assert alias["FunctionVersion"] == {"Fn::GetAtt": ["FunctionVersion", "Version"]}
    # Then new code (its sha256 key), a sized setting or any non-secret setting in the function's environment
    # publishes a new version: the description changes (but never carries the NoEcho token key)
    description = version["Description"]["Fn::Sub"]
    for parameter in ("CodeS3Key", "MemorySize", "Architecture", "FunctionTimeoutSeconds"):
        assert f"${{{parameter}}}" in description
    environment = resources["Function"]["Properties"]["Environment"]["Variables"]
    from_parameters = {
        value["Ref"]
        for value in environment.values()
        if isinstance(value, dict) and value.get("Ref") in template["Parameters"]
    }
    left_out = {"InputMappings", "FraudRulesPath", "FraudTokenKey"}  # docs/deploy.md says why
    assert {p for p in from_parameters - left_out if f"${{{p}}}" not in description} == set()
    assert "${FraudTokenKey}" not in description


def test_provisioned_concurrency_is_a_parameter_off_by_default(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["ProvisionedConcurrency"]
    assert parameter["Type"] == "Number"
    assert parameter["Default"] == 0
    assert template["Conditions"]["HasProvisionedConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ProvisionedConcurrency"}, 0]}]
    }
    # Only a value above 0 configures the alias's provisioned concurrency
    assert _one(template, "AWS::Lambda::Alias")["ProvisionedConcurrencyConfig"] == {
        "ProvisionedConcurrentExecutions": {"Ref": "ProvisionedConcurrency"}
    }


def test_provisioned_concurrency_path_passes_cfn_lint() -> None:
    # Given the template with ProvisionedConcurrency defaulting to 10 (cfn-lint resolves the defaults' path)
    text = TEMPLATE_PATH.read_text()
    off = "  ProvisionedConcurrency:\n    Type: Number\n    Default: 0\n"
    assert off in text
    on = text.replace(off, "  ProvisionedConcurrency:\n    Type: Number\n    Default: 10\n")
    # Then cfn-lint finds nothing
    assert [str(match) for match in lint(on, config=ManualArgs(regions=["us-east-1"]))] == []


def test_the_schema_registry_holds_the_packaged_avro_schemas_backward(template: dict[str, Any]) -> None:
    registry = _one(template, "AWS::Glue::Registry")
    schema = _one(template, "AWS::Glue::Schema")
    version = _one(template, "AWS::Glue::SchemaVersion")
    assert registry["Name"] == {"Fn::Sub": f"${{ResourcePrefix}}-{constants.SCHEMA_REGISTRY_SUFFIX}"}
    assert schema["Name"] == constants.CDR_SCHEMA_NAME
    assert (schema["DataFormat"], schema["Compatibility"]) == ("AVRO", "BACKWARD")
    # the definitions are the packaged .avsc files, to the byte: producers look their version up by
    # definition (GetSchemaByDefinition) and find the stack's versions whatever Glue normalises
    assert json.loads(schema["SchemaDefinition"]) == schema_definition(1)
    assert (schema["SchemaDefinition"], version["SchemaDefinition"]) == (schema_text(1), schema_text(2))
    assert version["Schema"] == {"SchemaArn": {"Fn::GetAtt": ["CdrSchema", "Arn"]}}
    # and all three exist only where the stack may create Glue resources (not on the emulator)
    for name in ("CdrSchemaRegistry", "CdrSchema", "CdrSchemaV2"):
        assert template["Resources"][name]["Condition"] == "HasSchemaRegistry"


def test_the_function_may_only_read_schema_versions_of_its_own_schema(template: dict[str, Any]) -> None:
    glue = [s for s in _role_statements(template) if any("glue:" in a for a in _as_list(s["Action"]))]
    assert len(glue) == 1
    assert glue[0]["Action"] == "glue:GetSchemaVersion"
    assert glue[0]["Resource"] == [
        {"Fn::GetAtt": ["CdrSchemaRegistry", "Arn"]},
        {"Fn::GetAtt": ["CdrSchema", "Arn"]},
    ]


def test_the_emulator_path_without_the_registry_passes_cfn_lint() -> None:
    text = TEMPLATE_PATH.read_text()
    registry_default = '  SchemaRegistry:\n    Type: String\n    Default: "true"'
    assert registry_default in text
    without = text.replace(registry_default, registry_default.replace('"true"', '"false"'))
    assert [str(match) for match in lint(without, config=ManualArgs(regions=["us-east-1"]))] == []
