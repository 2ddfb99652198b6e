"""Read the stack parameters file `cdrcap plan --emit-params FILE` writes and `cdrcap deploy --params` reads.

Accepted JSON shapes (so a file written by hand or by the AWS CLI works too):
  {"Parameters": {"ShardCount": 4, ...}}                       (CloudFormation template configuration)
  {"ShardCount": 4, ...}                                        (flat)
  [{"ParameterKey": "ShardCount", "ParameterValue": "4"}, ...]  (aws cloudformation --parameters)
Values become CloudFormation strings: numbers as written, booleans as "true"/"false".
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from infra.errors import InfraError


class ParamsError(InfraError):
    """The parameters file is missing or malformed; the message names the file, the entry and the fix."""


# Recommendation keys (capacity.planner's Plan.recommendation, contracts.md) -> pipeline.yaml parameters.
RECOMMENDATION_PARAMETERS = {
    "shards": "ShardCount",
    "parallelization_factor": "ParallelizationFactor",
    "batch_size": "BatchSize",
    "batching_window_s": "MaximumBatchingWindowInSeconds",
    "memory_mb": "MemorySize",
    "architecture": "Architecture",
    "stream_mode": "StreamMode",
    "consumer_mode": "ConsumerMode",
}


def params_from_recommendation(recommendation: Mapping[str, Any]) -> dict[str, str]:
    """The stack parameters a planner recommendation sets; `cdrcap plan --emit-params` writes these
    under {"Parameters": ...}. Keys the recommendation lacks are left to the template or the stack."""
    params: dict[str, str] = {}
    for key, parameter in RECOMMENDATION_PARAMETERS.items():
        if recommendation.get(key) is None:
            continue
        value = recommendation[key]
        if key == "stream_mode":
            value = str(value).upper().replace("-", "_")  # provisioned / on-demand -> PROVISIONED / ON_DEMAND
        elif key == "consumer_mode":
            value = str(value).lower()
        elif key == "batching_window_s":
            # The mapping takes whole seconds; rounding down never adds latency the planner did not budget.
            value = math.floor(float(value))
        params[parameter] = _as_cfn_string(value, "recommendation", key)
    return params


def parse_params(document: Any, *, source: str = "parameters") -> dict[str, str]:
    if isinstance(document, dict) and isinstance(document.get("Parameters"), dict):
        document = document["Parameters"]
    if isinstance(document, list):
        return dict(_from_cli_list(document, source))
    if not isinstance(document, dict):
        raise ParamsError(
            f"{source}: expected a JSON object of parameter names to values, got {type(document).__name__}."
        )
    return {str(name): _as_cfn_string(value, source, str(name)) for name, value in document.items()}


def load_params_file(path: Path) -> dict[str, str]:
    try:
        text = path.read_text()
    except OSError as error:
        raise ParamsError(
            f"cannot read parameters file {path}: {error.strerror}. "
            "Write one with `cdrcap plan --emit-params FILE`."
        ) from error
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParamsError(f"{path} is not JSON (line {error.lineno}: {error.msg}).") from error
    return parse_params(document, source=str(path))


def parse_assignments(assignments: Iterable[str]) -> dict[str, str]:
    """`KEY=VALUE` strings from the command line (`--param BatchSize=200`)."""
    result = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name:
            raise ParamsError(f"--param {assignment!r} is not KEY=VALUE, e.g. --param BatchSize=200.")
        result[name.strip()] = value.strip()
    return result


def _from_cli_list(items: list[Any], source: str) -> Iterable[tuple[str, str]]:
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "ParameterKey" not in item or "ParameterValue" not in item:
            raise ParamsError(f"{source}: entry {index} needs ParameterKey and ParameterValue.")
        name = str(item["ParameterKey"])
        yield name, _as_cfn_string(item["ParameterValue"], source, name)


def _as_cfn_string(value: Any, source: str, name: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ParamsError(f"{source}: {name} must be a string, number or boolean, not {type(value).__name__}.")
