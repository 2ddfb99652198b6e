"""infra/loadgen.yaml read as data: UI reachable from one CIDR only, scoped roles, wired workers, results."""

from __future__ import annotations

from typing import Any

import pytest

from infra.template import LOADGEN_TEMPLATE, load_template


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(LOADGEN_TEMPLATE)


def _of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in template["Resources"].items() if r["Type"] == resource_type}


def test_only_the_web_ui_is_open_and_only_to_the_allowed_cidr(template: dict[str, Any]) -> None:
    ingress = [
        rule
        for group in _of_type(template, "AWS::EC2::SecurityGroup").values()
        for rule in group.get("SecurityGroupIngress", [])
    ]
    cidr_rules = [rule for rule in ingress if "CidrIp" in rule]
    assert cidr_rules == [
        {
            "Description": "Locust web UI, from the one allowed CIDR",
            "IpProtocol": "tcp",
            "FromPort": 8089,
            "ToPort": 8089,
            "CidrIp": {"Ref": "AllowedWebCidr"},
        }
    ]
    assert all(rule.get("CidrIpv6") is None for rule in ingress)


def test_worker_count_is_a_parameter(template: dict[str, Any]) -> None:
    services = _of_type(template, "AWS::ECS::Service")
    desired = {service["ServiceName"]["Fn::Sub"]: service["DesiredCount"] for service in services.values()}
    assert desired == {
        "${ResourcePrefix}-locust-master": 1,
        "${ResourcePrefix}-locust-workers": {"Ref": "WorkerCount"},
    }


def test_tasks_run_a_public_python_image_that_installs_the_project(template: dict[str, Any]) -> None:
    assert template["Parameters"]["ContainerImage"]["Default"].startswith(
        "public.ecr.aws/docker/library/python:3.11"
    )
    for task in _of_type(template, "AWS::ECS::TaskDefinition").values():
        container = task["ContainerDefinitions"][0]
        assert container["Image"] == {"Ref": "ContainerImage"}
        assert container["ReadonlyRootFilesystem"] is True
        assert 'pip install --quiet --target /work/site "$SOURCE_URL"' in container["Command"][0]


def test_results_bucket_is_encrypted_private_and_expiring(template: dict[str, Any]) -> None:
    bucket = next(iter(_of_type(template, "AWS::S3::Bucket").values()))
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == {"Ref": "ResultsRetentionDays"}


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for role in _of_type(template, "AWS::IAM::Role").values():
        for policy in role["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                # A conditional statement: {"Fn::If": [cond, statement, NoValue]}
                statements.append(statement["Fn::If"][1] if "Fn::If" in statement else statement)
    return statements


def test_roles_have_no_wildcard_action_or_resource(template: dict[str, Any]) -> None:
    for statement in _statements(template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions)
        assert statement["Resource"] != "*"


def test_master_copies_its_run_directory_to_the_results_bucket(template: dict[str, Any]) -> None:
    master = _of_type(template, "AWS::ECS::TaskDefinition")["MasterTaskDefinition"]["ContainerDefinitions"][0]
    environment = {item["Name"]: item["Value"] for item in master["Environment"]}
    assert environment["RESULTS_BUCKET"] == {"Ref": "ResultsBucket"}
    assert "--cdr-run-dir /work/run" in master["Command"][0]


def test_workers_may_only_look_up_the_cdr_schema_of_the_pipelines_registry(template: dict[str, Any]) -> None:
    glue = [s for s in _statements(template) if any("glue:" in a for a in _as_list(s["Action"]))]
    assert len(glue) == 1
    assert sorted(glue[0]["Action"]) == ["glue:GetSchemaByDefinition", "glue:GetSchemaVersion"]
    resources = [r["Fn::Sub"] for r in glue[0]["Resource"]]
    assert [r.rsplit(":", 1)[1] for r in resources] == [
        "registry/${ResourcePrefix}-schemas",
        "schema/${ResourcePrefix}-schemas/cdr",
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
