"""The built-in `emulator` target: an AWS-kind target whose endpoint is the running local stack."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cdrcap.cli import main
from cdrcap.config import Config, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_the_emulator_target_is_built_in_and_not_local() -> None:
    for config in (Config(source=None), load_config(ROOT / "pyproject.toml")):
        target = config.target("emulator")
        assert not target.is_local
        assert target.local_stack_state_dir == ".cdrcap/local"


@pytest.mark.parametrize("command", [["run", "--profile", "ci"], ["deploy", "--yes"]])
def test_no_stack_up_exits_2_naming_cdrcap_up(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a directory where no local stack was brought up
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        exit_code = main([*command, "--target", "emulator"])
    finally:
        os.chdir(cwd)
    # Then the command refuses with a usage error that names what is missing and the fix
    assert exit_code == 2
    message = capsys.readouterr().err
    assert "is not running" in message and "`cdrcap up" in message
