"""Fixtures the functional tests share: the pipeline's resources and a DynamoDB client on the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from infra.local.emulator import EmulatorProcess
from pipeline import handler as handler_module
from tests.support.emulator_pipeline import Pipeline


@pytest.fixture
def pipeline(
    clean_emulator: EmulatorProcess, aws_session: boto3.Session, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Pipeline]:
    """The pipeline's resources on a clean emulator, the handler configured against them, then reset."""
    resources = Pipeline(aws_session, clean_emulator.endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", clean_emulator.endpoint_url)
    for name, value in resources.env.items():
        monkeypatch.setenv(name, value)
    handler_module.configure()
    yield resources
    handler_module._processor = None


@pytest.fixture
def dynamodb(emulator: EmulatorProcess, aws_session: Any) -> Any:
    """A DynamoDB client on the shared emulator (tests make their own tables: `create_table`)."""
    return aws_session.client("dynamodb", endpoint_url=emulator.endpoint_url)
