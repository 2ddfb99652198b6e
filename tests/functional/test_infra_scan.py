"""Both templates pass checkov (run from its own venv, installed on first use) and the dependency build
is reproducible too. These need PyPI once (checkov, the Lambda-platform wheels), hence functional."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from infra.package import build_lambda_zip
from infra.scan import ScanResult, bootstrap_checkov, find_checkov, scan
from infra.template import LOADGEN_TEMPLATE, PIPELINE_TEMPLATE

MIN_JUSTIFICATION_CHARS = 60


@pytest.fixture(scope="module")
def scan_result() -> ScanResult:
    checkov = find_checkov() or bootstrap_checkov()
    return scan([PIPELINE_TEMPLATE, LOADGEN_TEMPLATE], checkov)


def test_templates_have_no_failed_check(scan_result: ScanResult) -> None:
    assert [(f.check_id, f.resource) for f in scan_result.failed] == []
    assert scan_result.passed > 40


def test_every_suppression_is_justified_in_the_template(scan_result: ScanResult) -> None:
    short = [
        (f.check_id, f.resource)
        for f in scan_result.skipped
        if len(f.justification) < MIN_JUSTIFICATION_CHARS
    ]
    assert short == []


def test_zip_with_lambda_platform_dependencies_is_reproducible(tmp_path: Path) -> None:
    first = build_lambda_zip(tmp_path / "a", architecture="x86_64")
    second = build_lambda_zip(tmp_path / "b", architecture="x86_64")
    assert first.read_bytes() == second.read_bytes()
    names = zipfile.ZipFile(first).namelist()
    assert any(name.startswith("orjson/") and name.endswith("x86_64-linux-gnu.so") for name in names)
    assert any(name.startswith("phonenumbers/") for name in names)
