"""The `cdrcap` command line. Each subcommand lives in cdrcap/commands/<name>.py with `register(parser)`.

`main` is the one place that turns errors into exit codes: a CdrcapError carries its own (1 a check
failed, 2 usage or input); every package's root error (PipelineError, LoadgenError, CapacityError,
ReportsError, InfraError) that reaches it is a bad input or environment the message names: exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from capacity.errors import CapacityError
from cdrcap import __version__
from cdrcap.errors import EXIT_USAGE, CdrcapError
from infra.errors import InfraError
from loadgen.errors import LoadgenError
from pipeline.errors import PipelineError
from reports.errors import ReportsError

# Each package's root error: what a command lets through is the user's to fix (exit 2).
PACKAGE_ERRORS = (PipelineError, LoadgenError, CapacityError, ReportsError, InfraError)

# name -> (module under cdrcap.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("up", "start the embedded local stack (emulator, limits proxy, event-source runtime)"),
    "down": ("down", "stop everything `cdrcap up` started"),
    "status": ("status", "show what runs where; --json for the endpoint and resource names"),
    "load": ("load", "drive a CDR load at a target with a load shape (Locust)"),
    "plan": ("plan", "size shards, parallelization factor, batch, window and memory for an SLO"),
    "run": ("run", "a whole capacity run: up, load, measure, fit, plan, report"),
    "tune": (
        "tune",
        "power-tune the deployed function: measured duration and cost per memory and architecture",
    ),
    "report": ("report", "re-render a run's report from its saved data"),
    "compare": ("compare", "compare two run summaries: the release regression gate"),
    "baseline": ("baseline", "promote a run to be the baseline for `compare`"),
    "verify": ("verify", "check that every CDR of a run is accounted for exactly once"),
    "package": ("package", "build the deterministic Lambda zip"),
    "deploy": ("deploy", "deploy the pipeline stack to AWS through a change set"),
    "fraud-eval": (
        "fraud_eval",
        "measure the fraud rules' precision and recall against injected ground truth",
    ),
}

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdrcap",
        description="Load-test and size a Kinesis + Lambda CDR pipeline, on AWS or on an embedded emulator.",
    )
    parser.add_argument("--version", action="version", version=f"cdrcap {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(f"cdrcap.commands.{module_name}")
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module.register(sub)
    return parser


# Options whose value may start with "-" (a negative number list such as "-5,0.3"): argparse would read the
# value as an option and say only "expected one argument"; joined as --flag=value, the command can name it.
VALUE_MAY_LOOK_LIKE_AN_OPTION = frozenset({"--service-time"})


def join_dash_values(argv: Sequence[str]) -> list[str]:
    joined: list[str] = []
    index = 0
    while index < len(argv):
        item = argv[index]
        following = argv[index + 1] if index + 1 < len(argv) else None
        if item in VALUE_MAY_LOOK_LIKE_AN_OPTION and following is not None and following.startswith("-"):
            joined.append(f"{item}={following}")
            index += 2
            continue
        joined.append(item)
        index += 1
    return joined


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(join_dash_values(sys.argv[1:] if argv is None else argv))
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        result: int = args.func(args)
    except CdrcapError as error:
        print(f"cdrcap {args.command}: {error}", file=sys.stderr)
        return error.exit_code
    except PACKAGE_ERRORS as error:
        print(f"cdrcap {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"cdrcap {args.command}: interrupted", file=sys.stderr)
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
