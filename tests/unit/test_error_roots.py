"""One exception root per package, and one place in the CLI that maps them to exit codes."""

from __future__ import annotations

import argparse

import pytest

from capacity.errors import CapacityError
from cdrcap import cli
from cdrcap.commands import status as status_command
from infra.errors import InfraError
from loadgen.errors import LoadConfigError, LoadgenError
from pipeline.ber.errors import BerError
from pipeline.errors import ConfigError, PipelineError
from pipeline.fraud.errors import FraudError
from reports.errors import ReportInputError, ReportsError


def test_every_pipeline_error_derives_from_pipeline_error() -> None:
    assert issubclass(BerError, PipelineError)
    assert issubclass(FraudError, PipelineError)
    assert issubclass(ConfigError, PipelineError)


def test_the_load_generators_config_error_is_its_own_not_the_functions() -> None:
    assert issubclass(LoadConfigError, LoadgenError)
    assert not issubclass(LoadConfigError, PipelineError)
    assert issubclass(ReportInputError, ReportsError)


@pytest.mark.parametrize(
    "error",
    [PipelineError("p"), LoadgenError("l"), CapacityError("c"), ReportsError("r"), InfraError("i")],
)
def test_a_package_error_reaching_the_cli_is_exit_2_with_its_message(
    error: Exception, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a command that lets its package's error through
    def failing(_: argparse.Namespace) -> int:
        raise error

    monkeypatch.setattr(status_command, "run", failing)
    # When it runs
    code = cli.main(["status"])
    # Then the CLI maps it to exit 2 and prints the message, naming the command
    assert code == 2
    assert f"cdrcap status: {error}" in capsys.readouterr().err
