"""infra/scaler.yaml: the AWS numbers its decision obeys are capacity/quotas.py's, and its IAM stays on this
stack's stream and mapping."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from cfnlint.decode.cfn_yaml import load

from capacity import quotas
from infra.package import build_scaler_zip, sha256_of

TEMPLATE = load(str(Path(__file__).resolve().parents[2] / "infra" / "scaler.yaml"))


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("ShardWriteRecordsPerSecond", quotas.SHARD_WRITE_RECORDS_PER_S),
        ("ShardWriteBytesPerSecond", quotas.SHARD_WRITE_BYTES_PER_S),
        ("ReshardCallsPer24h", quotas.RESHARD_CALLS_PER_24H),
    ],
)
def test_the_scaler_templates_aws_numbers_are_the_quotas_modules(parameter: str, value: int) -> None:
    assert int(TEMPLATE["Parameters"][parameter]["Default"]) == value


def test_the_scalers_kinesis_and_lambda_permissions_name_resources_not_a_wildcard() -> None:
    statements = [
        statement
        for resource in TEMPLATE["Resources"].values()
        if resource["Type"] == "AWS::IAM::Role"
        for policy in resource["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    scoped = [
        s for s in statements if any(str(a).startswith(("kinesis:", "lambda:")) for a in _list(s["Action"]))
    ]
    assert scoped, "the scaler's role must allow its Kinesis and Lambda calls"
    for statement in scoped:
        assert "*" not in _list(statement["Resource"]), statement


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def test_the_scaler_zip_holds_the_scaler_package_alone_and_is_reproducible(tmp_path: Path) -> None:
    first = build_scaler_zip(tmp_path / "a")
    second = build_scaler_zip(tmp_path / "b")
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
    assert names and all(name.startswith("scaler/") and name.endswith(".py") for name in names)
    assert {"scaler/handler.py", "scaler/policy.py"} <= set(names)
    assert sha256_of(first) == sha256_of(second)
