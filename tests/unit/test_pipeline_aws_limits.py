"""pipeline/aws_limits.py is the one home of the Lambda's AWS API limits: the guard and the ties to it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from cfnlint.decode.cfn_yaml import load

from capacity import quotas
from pipeline import aws_limits
from tests.support.aws_limit_guard import UNITS, declared_limits, module_values

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "pipeline"


def limit_values() -> set[int | float]:
    # The 64 KiB billing chunks are left out: 64 KiB is also the handler's own default record-size cap
    # (pipeline/config.py DEFAULT_MAX_RECORD_BYTES), a policy of ours, not an AWS number.
    return module_values(
        aws_limits, skip=frozenset({"SQS_BILLED_CHUNK_BYTES", "EVENTBRIDGE_BILLED_CHUNK_BYTES"})
    )


def pipeline_modules() -> list[Path]:
    # aws_limits.py declares them; schema.py holds wire formats, not AWS numbers.
    excluded = {PIPELINE / "aws_limits.py", PIPELINE / "schema.py"}
    return sorted(path for path in PIPELINE.rglob("*.py") if path not in excluded)


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("SQS_MAX_BATCH_ENTRIES = 10\n", "SQS_MAX_BATCH_ENTRIES"),
        ("MAX_TRANSACT_ITEMS: int = 100\n", "MAX_TRANSACT_ITEMS"),
        ("KINESIS_MAX_BYTES_PER_PUT = 5 * 1024 * 1024\n", "KINESIS_MAX_BYTES_PER_PUT"),
        ("KIB = 1024\nTRANSACT_BYTES = 4 * KIB * KIB\n", "TRANSACT_BYTES"),
        ("_PUT_EVENTS_LIMIT = 10\n", "_PUT_EVENTS_LIMIT"),
    ],
)
def test_the_guard_finds_a_limit_declared_outside_aws_limits(source: str, name: str) -> None:
    # Given a module that declares an AWS limit itself
    # When the guard reads it
    found = declared_limits(source, limit_values())
    # Then it names the constant
    assert [hit.split(" = ")[0] for hit in found] == [name]


@pytest.mark.parametrize(
    "source",
    [
        "from pipeline.aws_limits import DLQ_MAX_MESSAGE_BYTES as M\nBUDGET = (M - 4096) * 3 // 4\n",
        "MAX_CONFLICT_ROUNDS = 3\n",
        "READ_ATTEMPTS = 10\n",  # equal to a limit's value, but neither limit-named nor byte-sized
        "def f() -> int:\n    MAX_X = 100\n    return MAX_X\n",  # not module level
    ],
)
def test_the_guard_leaves_imports_and_unrelated_constants_alone(source: str) -> None:
    assert declared_limits(source, limit_values()) == []


def test_no_pipeline_module_declares_an_aws_limit_of_its_own() -> None:
    # Given every module of the Lambda package but the limits module itself
    values = limit_values()
    # When each is read for module-level constants equal to an AWS limit
    found = {
        str(path.relative_to(ROOT)): hits
        for path in pipeline_modules()
        if (hits := declared_limits(path.read_text(encoding="utf-8"), values))
    }
    # Then there are none: they import it from pipeline.aws_limits
    assert found == {}


def test_capacity_quotas_re_exports_the_put_records_limits_instead_of_declaring_them() -> None:
    # Given capacity/quotas.py, the harness's module of AWS numbers
    source = (ROOT / "capacity" / "quotas.py").read_text(encoding="utf-8")
    assigned = {
        node.id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
    # Then no name of aws_limits is assigned there, and the shared ones are the same objects
    assert assigned.isdisjoint(
        name for name in vars(aws_limits) if name.isupper() and name not in UNITS | {"AS_OF"}
    )
    assert quotas.PUT_RECORDS_MAX_RECORDS is aws_limits.PUT_RECORDS_MAX_RECORDS
    assert quotas.PUT_RECORDS_MAX_BYTES is aws_limits.PUT_RECORDS_MAX_BYTES
    assert quotas.MAX_RECORD_BYTES is aws_limits.MAX_RECORD_BYTES


def test_every_limit_module_source_is_an_aws_documentation_page() -> None:
    urls = {name: value for name, value in vars(aws_limits).items() if name.endswith("_URL")}
    assert urls
    # API limits from the documentation; billing units from the services' pricing pages
    assert all(
        url.startswith("https://docs.aws.amazon.com/")
        or re.fullmatch(r"https://aws\.amazon\.com/[a-z/-]+/pricing/", url)
        for url in urls.values()
    ), urls
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", aws_limits.AS_OF)


def test_the_template_pins_the_dlq_message_size_the_sender_assumes() -> None:
    # Given the pipeline stack's dead-letter queue
    template = load(str(ROOT / "infra" / "pipeline.yaml"))
    queue = template["Resources"]["DeadLetterQueue"]["Properties"]
    # Then its MaximumMessageSize is the size emit.py and the SQS sender fit messages and batches to
    assert int(queue["MaximumMessageSize"]) == aws_limits.DLQ_MAX_MESSAGE_BYTES
    assert aws_limits.DLQ_MAX_MESSAGE_BYTES <= aws_limits.SQS_API_MAX_MESSAGE_BYTES
