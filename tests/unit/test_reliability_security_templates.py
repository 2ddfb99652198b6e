"""Least privilege and encryption over EVERY role, store and bucket of both templates (pipeline + loadgen).

tests/unit/test_infra_pipeline_template.py checks the function role and the pipeline's stores one by one;
this module checks the properties generically, so a role or bucket added later is covered too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode.cfn_yaml import load

INFRA = Path(__file__).resolve().parents[2] / "infra"
TEMPLATES = {name: load(str(INFRA / name)) for name in ("pipeline.yaml", "loadgen.yaml")}
# Stores that keep data at rest, and the property that encrypts each.
ENCRYPTION = {
    "AWS::Kinesis::Stream": "StreamEncryption",
    "AWS::DynamoDB::Table": "SSESpecification",
    "AWS::S3::Bucket": "BucketEncryption",
    "AWS::SQS::Queue": "KmsMasterKeyId",
}


def _resources(resource_type: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for template_name, template in TEMPLATES.items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == resource_type:
                yield template_name, logical_id, resource.get("Properties", {})


def _statements(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Statements of a policy document, both branches of an Fn::If expanded, AWS::NoValue dropped."""
    for statement in document["Statement"]:
        if "Fn::If" in statement:
            for branch in statement["Fn::If"][1:]:
                if branch != {"Ref": "AWS::NoValue"}:
                    yield branch
        else:
            yield statement


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


ROLES = list(_resources("AWS::IAM::Role"))
ROLE_IDS = [f"{t}:{r}" for t, r, _ in ROLES]


def test_both_templates_define_roles() -> None:
    assert {t for t, _, _ in ROLES} == set(TEMPLATES)


@pytest.mark.parametrize(("template", "role", "properties"), ROLES, ids=ROLE_IDS)
def test_no_role_allows_a_wildcard_action_or_negation(
    template: str, role: str, properties: dict[str, Any]
) -> None:
    assert "ManagedPolicyArns" not in properties, f"{role}: managed policies are not reviewable here"
    for policy in properties.get("Policies", []):
        for statement in _statements(policy["PolicyDocument"]):
            assert statement["Effect"] == "Allow"
            assert "NotAction" not in statement and "NotResource" not in statement, role
            for action in _as_list(statement["Action"]):
                assert "*" not in action, f"{role} allows {action}"


@pytest.mark.parametrize(("template", "role", "properties"), ROLES, ids=ROLE_IDS)
def test_every_role_resource_names_something(template: str, role: str, properties: dict[str, Any]) -> None:
    for policy in properties.get("Policies", []):
        for statement in _statements(policy["PolicyDocument"]):
            for resource in _as_list(statement["Resource"]):
                # A literal ARN or "*" would reach beyond this stack; references/substitutions cannot.
                assert isinstance(resource, dict), f"{role}: unscoped resource {resource!r}"
                text = str(resource)
                assert "GetAtt" in text or "${" in text, f"{role}: {text}"


@pytest.mark.parametrize(("template", "role", "properties"), ROLES, ids=ROLE_IDS)
def test_only_a_service_of_this_account_may_assume_a_role(
    template: str, role: str, properties: dict[str, Any]
) -> None:
    for statement in properties["AssumeRolePolicyDocument"]["Statement"]:
        principal = statement["Principal"]
        assert set(principal) == {"Service"}, f"{role} trusts {principal}"
        assert all(s.endswith(".amazonaws.com") for s in _as_list(principal["Service"]))


STORES = [(t, r, p, kind) for kind in ENCRYPTION for t, r, p in _resources(kind)]


@pytest.mark.parametrize(("template", "store", "properties", "kind"), STORES, ids=[s[1] for s in STORES])
def test_every_store_is_encrypted_at_rest(
    template: str, store: str, properties: dict[str, Any], kind: str
) -> None:
    setting = properties.get(ENCRYPTION[kind])
    assert setting, f"{store} ({kind}) has no {ENCRYPTION[kind]}"
    if kind == "AWS::DynamoDB::Table":
        assert setting["SSEEnabled"] is True


BUCKETS = list(_resources("AWS::S3::Bucket"))


@pytest.mark.parametrize(("template", "bucket", "properties"), BUCKETS, ids=[b[1] for b in BUCKETS])
def test_every_bucket_is_private_and_tls_only(template: str, bucket: str, properties: dict[str, Any]) -> None:
    assert all(properties["PublicAccessBlockConfiguration"].values())
    policies = [
        p
        for t, _, p in _resources("AWS::S3::BucketPolicy")
        if t == template and p["Bucket"] == {"Ref": bucket}
    ]
    assert len(policies) == 1, f"{bucket} has no bucket policy"
    denies = [
        s
        for s in _statements(policies[0]["PolicyDocument"])
        if s["Effect"] == "Deny"
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert denies, f"{bucket} accepts plain HTTP"
    covered = {str(r) for s in denies for r in _as_list(s["Resource"])}
    assert str({"Fn::GetAtt": [bucket, "Arn"]}) in covered or any(f"{bucket}.Arn}}" in c for c in covered)
    assert any("/*" in c for c in covered), f"{bucket}: objects are not covered by the TLS-only deny"
