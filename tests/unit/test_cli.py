import pytest

from cdrcap.cli import COMMANDS, build_parser, main


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the CLI, When asked for help
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    # Then it exits 0 and names every subcommand
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: cdrcap" in capsys.readouterr().out


def test_parser_builds_with_every_registered_module() -> None:
    parser = build_parser()
    assert parser.prog == "cdrcap"
