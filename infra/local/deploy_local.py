"""Deploy infra/pipeline.yaml to the emulator's CloudFormation: the same resources as on AWS.

MiniStack gaps handled here (see docs/local.md): the mapping is created disabled with
EnableEventSourceMapping=false (enabled, MiniStack would run its own, non-Lambda-faithful poller; disabled,
its settings stay readable through the Lambda API, which is where the staging path reads them), and the
table's TTL is enabled after the stack because MiniStack ignores TimeToLiveSpecification. MiniStack has no
Glue either: SchemaRegistry=false leaves the registry out, and the local stack serves it with moto.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path
from typing import Any

from infra.errors import InfraError
from pipeline import constants

TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "pipeline.yaml"
CODE_KEY = "lambda/cdr-processor.zip"
STACK_TIMEOUT_S = 120.0
OUTPUT_KEYS = (
    constants.OUTPUT_INPUT_STREAM_NAME,
    constants.OUTPUT_INPUT_STREAM_ARN,
    constants.OUTPUT_OUTPUT_STREAM_NAME,
    constants.OUTPUT_OUTPUT_STREAM_ARN,
    constants.OUTPUT_AGGREGATES_TABLE,
    constants.OUTPUT_ARCHIVE_BUCKET,
    constants.OUTPUT_DLQ_URL,
    constants.OUTPUT_DLQ_ARN,
    constants.OUTPUT_ALERT_BUS,
    constants.OUTPUT_FUNCTION_NAME,
)


class LocalDeployError(InfraError):
    """The stack could not be created on the emulator; the message carries CloudFormation's reasons."""


def template_parameters(template_text: str) -> set[str]:
    """Names declared under the template's top-level `Parameters:` (no YAML dependency for CFN tags)."""
    block = re.search(r"^Parameters:\s*\n((?:[ \t]+.*\n|\s*\n)*)", template_text, re.MULTILINE)
    if not block:
        return set()
    indents = re.findall(r"^([ \t]+)([A-Za-z0-9]+):", block.group(1), re.MULTILINE)
    if not indents:
        return set()
    first = min(len(indent) for indent, _ in indents)
    return {name for indent, name in indents if len(indent) == first}


def lambda_zip_bytes(work_dir: Path) -> bytes:
    """The function's code: infra.package's deterministic zip when present, else pipeline/ zipped as-is."""
    try:
        from infra.package import build_lambda_zip  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        buffer = io.BytesIO()
        root = Path(constants.__file__).resolve().parent
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(root.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, Path("pipeline") / path.relative_to(root))
        return buffer.getvalue()
    zip_path: Path = build_lambda_zip(work_dir, include_dependencies=False)
    return zip_path.read_bytes()


def deploy_stack(
    cloudformation: Any,
    s3: Any,
    *,
    stack_name: str,
    parameters: dict[str, str],
    template_path: Path,
    work_dir: Path,
    code_zip: Path | None = None,
) -> dict[str, str]:
    """Create the stack and return its outputs; parameters the template does not declare are dropped."""
    if not template_path.is_file():
        raise LocalDeployError(
            f"the pipeline template {template_path} is missing; it comes with infra/ "
            "(merge the infra branch) or pass another template path"
        )
    template_text = template_path.read_text()
    declared = template_parameters(template_text)
    code_bucket = f"{parameters.get('ResourcePrefix', stack_name)}-code-local"
    s3.create_bucket(Bucket=code_bucket)
    code = code_zip.read_bytes() if code_zip else lambda_zip_bytes(work_dir)  # the zip the runtime runs
    s3.put_object(Bucket=code_bucket, Key=CODE_KEY, Body=code)
    values = {
        **parameters,
        "CodeS3Bucket": code_bucket,
        "CodeS3Key": CODE_KEY,
        "EnableEventSourceMapping": "false",
        # MiniStack has no Glue: the local stack serves the registry itself (infra/local/glue_server.py).
        "SchemaRegistry": "false",
    }
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=template_text,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items() if k in declared],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    deadline = time.monotonic() + STACK_TIMEOUT_S
    while True:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            break
        if status.endswith("FAILED") or "ROLLBACK" in status or time.monotonic() > deadline:
            raise LocalDeployError(
                f"stack {stack_name} ended in {status}: {failure_reasons(cloudformation, stack_name)}"
            )
        time.sleep(0.2)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [key for key in OUTPUT_KEYS if key not in outputs]
    if missing:
        raise LocalDeployError(f"stack {stack_name} lacks the outputs {missing} that the local stack needs")
    return outputs


def failure_reasons(cloudformation: Any, stack_name: str) -> str:
    try:
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
    except Exception as error:  # the reason is best effort; the status already says it failed
        return f"(no events: {error})"
    reasons = [
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
        for e in events
        if "FAILED" in e["ResourceStatus"]
    ]
    return "; ".join(reasons[:5]) or "(no reason given)"


def function_environment(lambda_client: Any, function_name: str) -> dict[str, str]:
    """The handler's environment as the template defines it (empty when the emulator does not say)."""
    try:
        configuration = lambda_client.get_function_configuration(FunctionName=function_name)
    except Exception:  # an emulator without the function's configuration: the caller's defaults apply
        return {}
    variables = configuration.get("Environment", {}).get("Variables", {})
    return {str(k): str(v) for k, v in variables.items()}


def disable_mappings(lambda_client: Any, function_name: str) -> int:
    """Make sure every mapping of the function is disabled: MiniStack's CloudFormation honours the
    template's `Enabled: false` but reports the mapping's State as Enabled after a create; an explicit
    UpdateEventSourceMapping makes both say Disabled. Returns how many mappings there are."""
    mappings = lambda_client.list_event_source_mappings(FunctionName=function_name)["EventSourceMappings"]
    for mapping in mappings:
        if mapping.get("State") != "Disabled":
            lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    return len(mappings)


def enable_ttl(dynamodb: Any, table_name: str) -> None:
    dynamodb.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": constants.TABLE_TTL_ATTRIBUTE},
    )
