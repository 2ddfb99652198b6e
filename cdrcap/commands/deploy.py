"""`cdrcap deploy --target staging`: package, upload and deploy the pipeline stack through a change set.

`--target emulator` takes the same path against the running local stack (`cdrcap up`): a change set
updating the stack `cdrcap up` created, with the mapping kept disabled (MiniStack would otherwise poll the
stream beside the local runtime), after which the local runtime restarts with the deployed settings.

Parameters come from `--params FILE` (written by `cdrcap plan --emit-params FILE`) and `--param KEY=VALUE`;
anything not given keeps the stack's previous value on an update, or the template default on a create.

`--scaler` then deploys the reactive scaler (infra/scaler.yaml) as a second stack, `<stack>-scaler`, wired to
the pipeline stack's outputs (input stream, function, mapping UUID) with its own zip (`scaler/` alone) in the
same artifacts bucket. Parameters that only the scaler template declares (e.g. `ScalerPolicyJson`, which
`cdrcap plan --traffic --emit-params` writes) go to it; on the emulator it is deployed with
`ScalerEnabled=false` (schedule and alarm actions off): MiniStack drops a stream's records on a reshard.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cdrcap.aws_targets import aws_target, running_local_stack
from cdrcap.config import Target as ConfigTarget
from cdrcap.config import load_config
from cdrcap.errors import EXIT_OK, CdrcapError
from infra import artifacts
from infra.aws import Target, client, session_for
from infra.deploy import DeployResult, ResourceChange, StackDeployer
from infra.package import DEFAULT_ARCHITECTURE, build_lambda_zip, build_scaler_zip, zip_architecture
from infra.params import load_params_file, parse_assignments
from infra.template import load_template, parameter_names
from pipeline.constants import DEFAULT_STACK_NAME

PIPELINE_TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "pipeline.yaml"
SCALER_TEMPLATE = PIPELINE_TEMPLATE.with_name("scaler.yaml")
# The scaler's parameters that come from the pipeline stack (its outputs and its code location), never from
# the user's parameters: a CodeS3Key meant for the pipeline's zip must not reach the scaler.
_SCALER_WIRED = {
    "InputStreamName": "InputStreamName",
    "ProcessorFunctionName": "FunctionName",
    "EventSourceMappingId": "EventSourceMappingId",
}
_SHARED = {"ResourcePrefix"}
DEFAULT_BUILD_DIR = Path("dist")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target", required=True, help="a configured AWS target, e.g. `staging` ([tool.cdrcap.targets.*])"
    )
    parser.add_argument("--config", type=Path, help="config file (default: cdrcap.toml or pyproject.toml)")
    parser.add_argument("--region", help="AWS region (default: the target's region)")
    parser.add_argument("--profile", help="AWS credentials profile (default: the target's aws_profile)")
    parser.add_argument("--stack-name", help="CloudFormation stack name (default: the ResourcePrefix)")
    parser.add_argument("--params", type=Path, help="JSON parameters file from `cdrcap plan --emit-params`")
    parser.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="one parameter; wins over --params"
    )
    parser.add_argument("--zip", type=Path, help="a zip from `cdrcap package` (default: build one now)")
    parser.add_argument(
        "--code-bucket", help="bucket for the zip (default: <prefix>-artifacts-<account>-<region>)"
    )
    parser.add_argument("--template", type=Path, default=PIPELINE_TEMPLATE, help=argparse.SUPPRESS)
    parser.add_argument(
        "--scaler",
        action="store_true",
        help="also deploy the reactive scaler (infra/scaler.yaml) as <stack>-scaler, wired to this stack",
    )
    parser.add_argument("--yes", action="store_true", help="execute the change set without asking")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--timeout-s", type=float, default=1800.0, help="give up waiting after this long")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    configured = load_config(args.config).target(args.target)
    if configured.is_local:
        raise CdrcapError(
            f"target {args.target!r} is local: the local stack is started with `cdrcap up`, not deployed."
        )
    if not args.yes and not sys.stdin.isatty():
        raise CdrcapError("stdin is not a terminal, so nobody can confirm the change set: pass --yes.")
    target = aws_target(configured, region=args.region, profile=args.profile)
    region = target.region
    scaler: DeployResult | None = None
    try:
        given = load_params_file(args.params) if args.params else {}
        given.update(parse_assignments(args.param))
        parameters, scaler_parameters = split_parameters(given, args.template)
        if scaler_parameters.keys() - _SHARED and not args.scaler:
            names = ", ".join(sorted(scaler_parameters.keys() - _SHARED))
            print(f"not deploying the scaler (no --scaler), so these are unused: {names}", file=sys.stderr)
        if target.emulator:
            # Two consumers would split the stream: the local runtime runs the mapping, MiniStack must not.
            parameters["EnableEventSourceMapping"] = "false"
            parameters["SchemaRegistry"] = "false"  # no Glue in MiniStack: the local stack serves it (moto)
        result = _deploy(args, target, parameters)
        if target.emulator and result.status not in {"CANCELLED"}:
            _follow(configured)
        if args.scaler and result.status not in {"CANCELLED"}:
            scaler = _deploy_scaler(args, target, result, scaler_parameters)
    except (BotoCoreError, ClientError) as error:
        raise CdrcapError(
            f"AWS refused a call while deploying to {args.target} ({region}): {error}. "
            "Check the credentials (--profile) and the region."
        ) from error
    _report(result, as_json=args.json, target_name=configured.name)
    if scaler is not None:
        _report(scaler, as_json=args.json, target_name=configured.name, follow_up=False)
    return EXIT_OK


def split_parameters(given: dict[str, str], template: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The pipeline stack's parameters and the scaler stack's, from one set: a name only the scaler template
    declares goes to the scaler; anything else (an unknown name included, so the pipeline deploy names it)
    stays with the pipeline. ResourcePrefix goes to both."""
    pipeline_names = set(parameter_names(load_template(template)))
    scaler_only = set(parameter_names(load_template(SCALER_TEMPLATE))) - pipeline_names
    pipeline = {name: value for name, value in given.items() if name not in scaler_only}
    scaler = {name: value for name, value in given.items() if name in scaler_only or name in _SHARED}
    return pipeline, scaler


def _deploy_scaler(
    args: argparse.Namespace, target: Target, pipeline: DeployResult, given: dict[str, str]
) -> DeployResult:
    missing = [output for output in _SCALER_WIRED.values() if output not in pipeline.outputs]
    if missing:
        raise CdrcapError(
            f"stack {pipeline.stack_name} has no output {', '.join(missing)}: it was deployed from an older "
            "template; redeploy the pipeline stack (without --scaler) first, then add --scaler."
        )
    session = session_for(target)
    deployer = StackDeployer(client(target, "cloudformation", session=session), timeout_s=args.timeout_s)
    parameters = dict(given)
    parameters.update({name: pipeline.outputs[output] for name, output in _SCALER_WIRED.items()})
    parameters.setdefault("ResourcePrefix", pipeline.stack_name)
    if target.emulator:
        parameters["ScalerEnabled"] = "false"
    bucket = deployer.current_parameters(pipeline.stack_name)["CodeS3Bucket"]
    scaler_zip = build_scaler_zip(DEFAULT_BUILD_DIR)
    parameters["CodeS3Bucket"] = bucket
    parameters["CodeS3Key"] = artifacts.upload_code(client(target, "s3", session=session), bucket, scaler_zip)
    stack_name = f"{pipeline.stack_name}-scaler"
    print(f"deploying stack {stack_name} (the scaler) with code {scaler_zip}", file=sys.stderr)
    return deployer.deploy(
        stack_name,
        SCALER_TEMPLATE.read_text(),
        parameters,
        confirm=lambda kind, changes: _confirm(kind, changes, assume_yes=args.yes),
        tags={"cdrcap:stack": pipeline.stack_name},
    )


def _deploy(args: argparse.Namespace, target: Target, parameters: dict[str, str]) -> DeployResult:
    session = session_for(target)
    stack_name = args.stack_name or parameters.get("ResourcePrefix", DEFAULT_STACK_NAME)
    deployer = StackDeployer(client(target, "cloudformation", session=session), timeout_s=args.timeout_s)
    # On an update, parameters not given keep their deployed values: the zip must match those too.
    effective = deployer.current_parameters(stack_name) | parameters
    prefix = effective.get("ResourcePrefix", stack_name)
    architecture = effective.get("Architecture", DEFAULT_ARCHITECTURE)
    # The emulator's function is never run (the local runtime runs the zip `cdrcap up` unpacked), so the
    # zip uploaded there needs no platform wheels; AWS gets the zip with its runtime dependencies.
    zip_path = args.zip or build_lambda_zip(
        DEFAULT_BUILD_DIR, architecture=architecture, include_dependencies=not target.emulator
    )
    built_for = zip_architecture(zip_path)
    if built_for not in {None, architecture}:
        raise CdrcapError(
            f"{zip_path} holds native code for {built_for} but the stack's Architecture is {architecture}; "
            f"build it with `cdrcap package --architecture {architecture}` "
            f"or pass --param Architecture={built_for}."
        )
    s3 = client(target, "s3", session=session)
    if "CodeS3Bucket" not in parameters:
        bucket = args.code_bucket or artifacts.default_bucket_name(
            prefix, _account_id(target, session), target.region
        )
        artifacts.ensure_bucket(s3, bucket, target.region)
        parameters["CodeS3Bucket"] = bucket
    parameters.setdefault("CodeS3Key", artifacts.upload_code(s3, parameters["CodeS3Bucket"], zip_path))
    print(
        f"deploying stack {stack_name} to {target.name} ({target.region}) with code {zip_path}",
        file=sys.stderr,
    )
    return deployer.deploy(
        stack_name,
        args.template.read_text(),
        parameters,
        confirm=lambda kind, changes: _confirm(kind, changes, assume_yes=args.yes),
        tags={"cdrcap:stack": stack_name},
    )


def _follow(configured: ConfigTarget) -> None:

    stack, _ = running_local_stack(configured)
    info = stack.follow_deployment()
    config = info.config
    print(
        f"local runtime restarted with the deployed mapping: batch {config.batch_size}, window "
        f"{config.batching_window_s} s, PF {config.parallelization_factor}, {config.memory_mb} MB",
        file=sys.stderr,
    )


def _account_id(target: Target, session: Any) -> str:
    account: str = client(target, "sts", session=session).get_caller_identity()["Account"]
    return account


def _confirm(change_set_type: str, changes: tuple[ResourceChange, ...], *, assume_yes: bool) -> bool:
    print(f"change set ({change_set_type}), {len(changes)} change(s):", file=sys.stderr)
    for change in changes:
        print(f"  {change.describe()}", file=sys.stderr)
    if assume_yes:
        return True
    answer = input("execute this change set? [y/N] ")
    return answer.strip().lower() in {"y", "yes"}


def _report(
    result: DeployResult, *, as_json: bool, target_name: str = "staging", follow_up: bool = True
) -> None:
    if as_json:
        document = {
            "stack_name": result.stack_name,
            "status": result.status,
            "change_set_type": result.change_set_type,
            "changes": [change.__dict__ for change in result.changes],
            "outputs": result.outputs,
        }
        print(json.dumps(document, indent=2, sort_keys=True))
        return
    print(f"{result.stack_name}: {result.status}")
    for key, value in sorted(result.outputs.items()):
        print(f"  {key:<22} {value}")
    if follow_up and result.status not in {"CANCELLED"}:
        print(f"next: cdrcap run --target {target_name}", file=sys.stderr)
