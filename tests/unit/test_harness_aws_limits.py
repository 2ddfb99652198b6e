"""capacity/quotas.py is the harness's one home of AWS numbers: no other harness module declares one."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from capacity import quotas
from pipeline import aws_limits
from tests.support.aws_limit_guard import declared_limits, module_values

ROOT = Path(__file__).resolve().parents[2]
HARNESS_PACKAGES = ("loadgen", "capacity", "reports", "infra", "cdrcap")
# quotas.py declares them; ministack_fastpaths.py patches the emulator and mirrors its internals, not AWS.
EXCLUDED = {ROOT / "capacity" / "quotas.py", ROOT / "infra" / "local" / "ministack_fastpaths.py"}
# The harness also names minimums, billing units, prices and per-call counts after what they are.
HARNESS_LIMIT_NAME = re.compile(
    r"(^|_)(MAX|MAXIMUM|MIN|MINIMUM|LIMIT|LIMITS|QUOTA|CAP|UNIT|USD|PRICE|PER_REQUEST|PER_CALL)(_|$)"
)
# Unlike the Lambda's, the harness is full of large tuning numbers (caps, sample sizes), so a large value
# alone only counts on a constant whose name says it is a size.
BYTE_SIZED_NAME = re.compile(r"(^|_)(BYTES|KB|KIB|MB|MIB)(_|$)")
# 0 and 1 (ESM_BATCHING_WINDOW_S_MIN, ESM_BATCH_SIZE_MIN, ...) are everywhere and say nothing.
TRIVIAL_VALUES = {0, 1}
# Harness constants whose value happens to equal an AWS number but is not one (reviewed; say why).
NOT_AWS_NUMBERS = {
    ("capacity/cold_starts.py", "MIN_SIMULATED_RECORDS"),  # enough records for a p99; = 500 by chance
    ("capacity/fit.py", "MIN_INVOCATIONS"),  # fewest invocations worth fitting a service time to
    ("capacity/fit.py", "BYTES_TERM_MIN_R2_GAIN"),  # a model-selection threshold; equals a price by chance
    ("capacity/planner.py", "MAX_CANDIDATES_SCANNED"),  # bounds the planner's search, not an AWS limit
    ("capacity/planner.py", "MAX_SIMULATED_BATCHES"),  # bounds one simulation; = 4,000 by chance
    (
        "capacity/simulate.py",
        "MIN_SERVICE_SHARE",
    ),  # floor of a drawn invocation time vs its fit; = 0.2 by chance
    ("capacity/runtime_samples.py", "MIN_SAMPLES"),  # fewest measured calls worth drawing from; = 5 by chance
    ("capacity/traffic.py", "MIN_ROWS"),  # a traffic day needs two steps at least
    ("cdrcap/commands/fraud_eval.py", "MIN_CDRS"),  # sample size for a meaningful recall
    ("cdrcap/verify.py", "MAX_DIFF_LINES"),  # how many differences `cdrcap verify` prints
    ("loadgen/kpl.py", "MAX_BUFFERED_MS_LIMIT"),  # the harness's bound on buffering; = 10,000 by chance
    ("loadgen/safety.py", "ABSOLUTE_MAX_DURATION_S"),  # a day-long run cap, not PutLogEvents' 24 h span
}


def harness_values() -> set[int | float]:
    """Every AWS number the harness may use: quotas.py's, aws_limits.py's and the default prices."""
    prices = {
        field.default for field in dataclasses.fields(quotas.Prices) if isinstance(field.default, float)
    }
    return (module_values(quotas) | module_values(aws_limits) | prices) - TRIVIAL_VALUES


def harness_limits(source: str) -> list[str]:
    return declared_limits(
        source, harness_values(), limit_name=HARNESS_LIMIT_NAME, byte_sized_name=BYTE_SIZED_NAME
    )


def harness_modules() -> list[Path]:
    paths = (path for package in HARNESS_PACKAGES for path in (ROOT / package).rglob("*.py"))
    return sorted(path for path in paths if path not in EXCLUDED)


@pytest.mark.parametrize(
    ("source", "name"),
    [
        # the literals a review found in the harness before they moved to capacity/quotas.py
        ("GET_RECORDS_LIMIT = 10_000\n", "GET_RECORDS_LIMIT"),
        ("PUT_PAYLOAD_UNIT_BYTES = 25 * 1024\n", "PUT_PAYLOAD_UNIT_BYTES"),
        ("ON_DEMAND_BILLING_KB = 1024\n", "ON_DEMAND_BILLING_KB"),
        ("SQS_MESSAGES_PER_REQUEST = 10\n", "SQS_MESSAGES_PER_REQUEST"),
        ("TEMPLATE_BODY_MAX_BYTES = 51_200\n", "TEMPLATE_BODY_MAX_BYTES"),
        ("_SHARD_LIMIT_RPS = 100.0\n", "_SHARD_LIMIT_RPS"),
        ('_FALLBACK_LIMITS = {"batch_size": (1, 10_000), "memory_mb": (128, 10_240)}\n', "_FALLBACK_LIMITS"),
        # minimums, prices and MiB-sized values
        ("LAMBDA_MIN_MEMORY_MB = 128\n", "LAMBDA_MIN_MEMORY_MB"),
        ("SHARD_HOUR_USD = 0.015\n", "SHARD_HOUR_USD"),
        ("MIB = 1 << 20\nREAD_BYTES_PER_S = 2 * MIB\n", "READ_BYTES_PER_S"),
        ("VCPU_LIMIT_MB: int = 1_769\n", "VCPU_LIMIT_MB"),
    ],
)
def test_the_guard_finds_an_aws_number_declared_in_the_harness(source: str, name: str) -> None:
    # Given a harness module that declares an AWS limit or price itself
    # When the guard reads it
    found = harness_limits(source)
    # Then it names the constant
    assert [hit.split(" = ")[0] for hit in found] == [name]


@pytest.mark.parametrize(
    "source",
    [
        "from capacity.quotas import GET_RECORDS_MAX_RECORDS as LIMIT\nPAGE = LIMIT // 2\n",
        "from capacity import quotas\nSHARD_LIMIT_RPS = 0.1 * quotas.SHARD_WRITE_RECORDS_PER_S\n",
        "MAX_READ_CALLS = 2_000\n",  # limit-named, but no AWS number
        "DAY_SLICE_RECORDS = 1_000\n",  # an AWS number's value, but neither limit-named nor a size
        "ABSOLUTE_RECORDS = 10_000\n",  # large, but not named as a size
        "MIN_BATCH = 1\n",  # trivial
        "GRID = (10, 100, 10_000)\n",  # a table, but not limit-named
        "def f() -> int:\n    MAX_X = 500\n    return MAX_X\n",  # not module level
    ],
)
def test_the_guard_leaves_imports_and_unrelated_constants_alone(source: str) -> None:
    assert harness_limits(source) == []


def declared_in_harness() -> dict[tuple[str, str], str]:
    """(module path, constant name) -> "NAME = value" for every AWS number the harness declares itself."""
    return {
        (path.relative_to(ROOT).as_posix(), hit.split(" = ")[0]): hit
        for path in harness_modules()
        for hit in harness_limits(path.read_text(encoding="utf-8"))
    }


def test_no_harness_module_declares_an_aws_number_of_its_own() -> None:
    # Given every module of loadgen, capacity, reports, infra and cdrcap but quotas.py
    # When each is read for module-level constants equal to an AWS limit or price
    found = {key: hit for key, hit in declared_in_harness().items() if key not in NOT_AWS_NUMBERS}
    # Then there are none: they import it from capacity.quotas
    assert found == {}


def test_every_reviewed_exception_is_still_declared() -> None:
    # A stale entry would later let a real limit of the same module and name through.
    assert declared_in_harness().keys() >= NOT_AWS_NUMBERS
