"""Shared fixtures (the embedded emulator on a free loopback port, AWS clients pointed at it) and the
unit/functional/e2e markers, applied by the folder a test lives in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from infra.local.emulator import EmulatorProcess, start_emulator

TESTS_DIR = Path(__file__).parent
FOLDER_MARKERS = ("unit", "functional", "e2e")  # tests/<folder>/ -> pytest.mark.<folder>


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker (pytest's own modifyitems)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not item.path.is_relative_to(TESTS_DIR):
            continue
        folder = item.path.relative_to(TESTS_DIR).parts[0]
        if folder in FOLDER_MARKERS and item.get_closest_marker(folder) is None:
            item.add_marker(folder)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """One MiniStack for the whole session; tests that need a clean slate use `clean_emulator`."""
    log_dir: Path = tmp_path_factory.mktemp("emulator")
    process = start_emulator(log_dir=log_dir)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def clean_emulator(emulator: EmulatorProcess) -> EmulatorProcess:
    emulator.reset()
    return emulator


@pytest.fixture
def aws_session(monkeypatch: pytest.MonkeyPatch) -> boto3.Session:
    # Fake credentials only: nothing in the tests may reach real AWS.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
