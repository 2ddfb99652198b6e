"""`cdrcap up --exactly-once`: the local stack deploys the template with the chosen ExactlyOnceDesign."""

from __future__ import annotations

import argparse

import pytest

from cdrcap.commands import up
from infra.local import deploy_local
from pipeline.constants import EXACTLY_ONCE_DESIGNS


def parse(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    up.register(parser)
    return parser.parse_args(list(flags))


def test_the_design_reaches_the_templates_parameter() -> None:
    config = up.config_from(parse("--exactly-once", "ledger"))
    # The template declares the parameter (deploy_stack drops undeclared ones silently)
    declared = deploy_local.template_parameters(deploy_local.TEMPLATE_PATH.read_text())
    assert "ExactlyOnceDesign" in declared
    assert config.template_parameters()["ExactlyOnceDesign"] == "ledger"


def test_the_default_is_the_templates_default_per_record() -> None:
    assert up.config_from(parse()).template_parameters()["ExactlyOnceDesign"] == EXACTLY_ONCE_DESIGNS[0]


def test_an_unknown_design_is_refused_with_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse("--exactly-once", "exact")
    assert exited.value.code == 2 and "ledger" in capsys.readouterr().err
