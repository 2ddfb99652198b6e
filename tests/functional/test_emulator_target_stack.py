"""`cdrcap run --target emulator` against a local stack deployed from another template exits 2, naming
what the stack lacks and the command that deploys the pipeline template."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cdrcap.cli import main
from infra.local.stack import LocalStack, LocalStackConfig
from tests.support.local_stack import TEMPLATE, two_free_ports


@pytest.fixture
def other_stack(tmp_path: Path) -> Iterator[Path]:
    state_dir = tmp_path / "state"
    local = LocalStack(state_dir)
    local.up(
        LocalStackConfig(
            shards=1,
            port=two_free_ports(),
            template_path=str(TEMPLATE),  # a contract template, not infra/pipeline.yaml
            handler="tests.support.local_handlers.noop",
        )
    )
    try:
        yield state_dir
    finally:
        local.down()


def test_a_stack_from_another_template_exits_2(
    other_stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "cdrcap.toml"
    config.write_text(
        f'[targets.emulator]\nlocal_stack_state_dir = "{other_stack}"\n'
        "[profiles.p]\nsteps = [10]\nstep_duration_s = 5\nshards = 1\n"
    )
    exit_code = main(["run", "--config", str(config), "--target", "emulator", "--profile", "p"])
    assert exit_code == 2
    message = capsys.readouterr().err
    assert "lacks the outputs" in message and "DashboardName" in message
    assert "`cdrcap deploy --target emulator --params params.json`" in message
