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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        # a local-stack error (infra), a bad rules file (pipeline), a bad load option (loadgen)
        (["down", "--state-dir", "{tmp}/nothing-here"], "down"),
        (["fraud-eval", "--rules", "{tmp}/missing.json"], "missing.json"),
        (["load", "--formats", "kamailio_acc=1"], "kamailio_acc"),
    ],
)
def test_package_errors_reach_one_mapping_in_main_as_exit_2_with_their_message(
    argv: list[str], message: str, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given commands that no longer translate their packages' errors themselves
    code = main([part.replace("{tmp}", str(tmp_path)) for part in argv])
    # Then cli.main maps each to exit 2 and prints it, naming the bad value
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(f"cdrcap {argv[0]}: ") and message in err


def test_commands_do_not_translate_package_errors_themselves() -> None:
    import re
    from pathlib import Path

    package = Path(__file__).parents[2] / "cdrcap"
    pattern = re.compile(r"except \(?(\w+Error)[^:]*:\s*\n\s*raise CdrcapError\(str\(error\)\)")
    offenders = {
        f"{path.relative_to(package)}: {m.group(1)}"
        for path in package.rglob("*.py")
        for m in pattern.finditer(path.read_text())
    }
    assert offenders == set(), "map package errors in cdrcap/cli.py (PACKAGE_ERRORS), not per command"
