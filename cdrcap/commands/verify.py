"""`cdrcap verify --run runs/<id>`: is every CDR of the run accounted for exactly once? Exit 0 / 1 / 2.

Needs the run's ground truth (`data/ground_truth.json`, see cdrcap/truth.py, or --truth; without it the
load generator's `labels.csv` gives a partial check, cdrcap/verify_labels.py) and the target's
resource names, taken from the first of: --resources FILE, `<run>/resources.json` (the stack outputs),
the running local stack (`cdrcap status`), the CloudFormation stack's outputs (--stack, staging).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cdrcap.errors import EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE, CdrcapError
from cdrcap.observe import Resources, observe_target
from cdrcap.rundir import resolve_run
from cdrcap.truth import GROUND_TRUTH_FILE, GroundTruth, truth_of_stream
from cdrcap.verify import check
from cdrcap.verify_labels import LabelTruth, check_labels
from infra.aws import Target, client
from infra.local.esm.config import EsmConfig
from infra.local.stack import DEFAULT_STATE_DIR, LocalStack, StackInfo
from loadgen.synth.labels import LABELS_FILE
from pipeline import constants as c
from pipeline.config import load_config
from pipeline.errors import PipelineError

RESOURCES_FILE = "resources.json"
VERIFY_FILE = "verify.json"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", type=Path, required=True, help="the run directory (or runs/latest)")
    parser.add_argument("--truth", type=Path, help=f"ground truth JSON (default: <run>/{GROUND_TRUTH_FILE})")
    parser.add_argument(
        "--truth-from-stream",
        action="store_true",
        help="build the truth from the input stream's records as the handler saw them (shards, positions, "
        "arrival times) under the deployed function's configuration, and save it as "
        f"<run>/{GROUND_TRUTH_FILE}; the default when the run has no truth file and the function runs "
        "CDRCAP_EXACTLY_ONCE=ledger",
    )
    parser.add_argument(
        "--resources", type=Path, help="JSON of the stack outputs (default: <run>/resources.json)"
    )
    parser.add_argument("--endpoint-url", help="the emulator's URL (default: the run's target)")
    parser.add_argument("--region", help="AWS region (default: the run's target, else us-east-1)")
    parser.add_argument("--stack", default=c.DEFAULT_STACK_NAME, help="stack whose outputs name the stores")
    parser.add_argument(
        "--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="the local stack's state dir (cdrcap up)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


def _json_file(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise CdrcapError(f"{path}: not found") from None
    except json.JSONDecodeError as exc:
        raise CdrcapError(f"{path}: not JSON ({exc}): fix or regenerate it") from None
    if not isinstance(doc, dict):
        raise CdrcapError(f"{path}: expected a JSON object")
    return doc


def _local_stack(args: argparse.Namespace) -> StackInfo | None:
    return LocalStack(args.state_dir).status() if args.state_dir.exists() else None


def _target(args: argparse.Namespace, run_dir: Path, local: StackInfo | None) -> Target:
    summary_path = run_dir / "summary.json"
    recorded = _json_file(summary_path).get("target", {}) if summary_path.exists() else {}
    is_local = bool(recorded.get("is_local", True))
    endpoint_url = (
        args.endpoint_url
        or recorded.get("endpoint_url")
        or (local.endpoint_url if local and is_local else None)
    )
    return Target(
        name=str(recorded.get("name") or ("local" if endpoint_url else "staging")),
        region=args.region or recorded.get("region") or "us-east-1",
        endpoint_url=endpoint_url,
        is_local=bool(endpoint_url),
    )


def _local_outputs(info: StackInfo) -> dict[str, Any]:
    return {
        c.OUTPUT_AGGREGATES_TABLE: info.aggregates_table,
        c.OUTPUT_ARCHIVE_BUCKET: info.archive_bucket,
        c.OUTPUT_DLQ_URL: info.dlq_url,
        c.OUTPUT_OUTPUT_STREAM_NAME: info.output_stream_name,
    }


def _stack_outputs(target: Target, stack: str) -> dict[str, Any]:
    try:
        described = client(target, "cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except (ClientError, BotoCoreError) as exc:
        raise CdrcapError(
            f"stack {stack!r}: cannot read its outputs ({exc}): pass --stack or --resources"
        ) from None
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def _resources(args: argparse.Namespace, run_dir: Path, target: Target, local: StackInfo | None) -> Resources:
    path = args.resources or run_dir / RESOURCES_FILE
    if args.resources or path.exists():
        outputs, source = _json_file(path), str(path)
    elif target.is_local and local is not None and local.endpoint_url == target.endpoint_url:
        outputs, source = _local_outputs(local), "the running local stack"
    else:
        outputs, source = _stack_outputs(target, args.stack), f"stack {args.stack}"
    try:
        return Resources.from_outputs(outputs)
    except KeyError as missing:
        raise CdrcapError(f"{source} lacks {missing}: give the stack outputs with --resources FILE") from None


def _deployed(
    args: argparse.Namespace, target: Target, local: StackInfo | None
) -> tuple[dict[str, str], str]:
    """(the function's environment, the input stream's name): the local stack's runtime config, else the
    CloudFormation stack's function and outputs."""
    if target.is_local and local is not None and local.endpoint_url == target.endpoint_url:
        esm = EsmConfig.from_dict(json.loads((Path(local.state_dir) / "esm.json").read_text()))
        return dict(esm.handler_env), local.input_stream_name
    outputs = _stack_outputs(target, args.stack)
    if c.OUTPUT_FUNCTION_NAME not in outputs or c.OUTPUT_INPUT_STREAM_NAME not in outputs:
        raise CdrcapError(
            f"stack {args.stack!r} has no {c.OUTPUT_FUNCTION_NAME} / {c.OUTPUT_INPUT_STREAM_NAME} output: "
            "pass --stack, or --truth FILE"
        )
    function = client(target, "lambda").get_function_configuration(
        FunctionName=outputs[c.OUTPUT_FUNCTION_NAME]
    )
    return dict(function.get("Environment", {}).get("Variables", {})), outputs[c.OUTPUT_INPUT_STREAM_NAME]


def _truth(
    args: argparse.Namespace, run_dir: Path, truth_path: Path, target: Target, local: StackInfo | None
) -> GroundTruth | LabelTruth:
    """The given or saved truth file; else built from the stream (asked, or under ledger: labels cannot tell
    which source duplicates ledger's per-second scope rejects); else the labels' partial check."""
    if args.truth or (truth_path.exists() and not args.truth_from_stream):
        return GroundTruth.read(truth_path)
    has_labels = (run_dir / LABELS_FILE).exists()
    if not args.truth_from_stream:
        if not has_labels:
            return GroundTruth.read(truth_path)  # the error that says how to get one
        try:
            env, stream = _deployed(args, target, local)
        except (OSError, ClientError, BotoCoreError, CdrcapError):
            return LabelTruth(run_dir)  # the design is unknown: the labels' check as before
        if env.get(c.ENV_EXACTLY_ONCE, "").strip().lower() != "ledger":
            return LabelTruth(run_dir)
    else:
        env, stream = _deployed(args, target, local)
    try:
        config = load_config(env)
    except PipelineError as error:
        raise CdrcapError(f"the deployed function's configuration: {error}") from None
    # Kinesis straight from the emulator: the limits proxy would pace a full read of the stream.
    truth = truth_of_stream(client(replace(target, kinesis_endpoint_url=None), "kinesis"), stream, config)
    truth.write(truth_path)
    print(
        f"cdrcap verify: ground truth built from the records of {stream} ({config.exactly_once}), "
        f"saved as {truth_path}",
        file=sys.stderr,
    )
    return truth


def run(args: argparse.Namespace) -> int:
    try:
        run_dir = resolve_run(args.run)
        if not run_dir.is_dir():
            raise CdrcapError(f"{args.run}: no such run directory")
        truth_path = args.truth or run_dir / GROUND_TRUTH_FILE
        local = _local_stack(args)
        target = _target(args, run_dir, local)
        truth = _truth(args, run_dir, truth_path, target, local)
        resources = _resources(args, run_dir, target, local)
        observed = observe_target(target, resources)
    except CdrcapError as error:
        print(f"cdrcap verify: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (ClientError, BotoCoreError) as error:
        print(f"cdrcap verify: cannot read the target's stores: {error}", file=sys.stderr)
        return EXIT_USAGE
    report = check(truth, observed) if isinstance(truth, GroundTruth) else check_labels(truth, observed)
    (run_dir / VERIFY_FILE).write_text(json.dumps(report.to_dict(), indent=2))
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.text())
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED
