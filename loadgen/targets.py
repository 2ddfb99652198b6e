"""Resolve a target name to an `infra.aws.Target`: `local` from the running local stack (or explicit
endpoint flags), any other name from `[tool.cdrcap.targets.<name>]` in pyproject.toml / cdrcap.toml."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path
from typing import Any

from infra.aws import Target
from loadgen.errors import LoadgenError
from pipeline.constants import DEFAULT_STACK_NAME, INPUT_STREAM_SUFFIX, resource_name

DEFAULT_INPUT_STREAM = resource_name(DEFAULT_STACK_NAME, INPUT_STREAM_SUFFIX)


def local_stack_endpoints() -> tuple[str, str] | None:
    """(kinesis endpoint URL, input stream name) of the running local stack, or None if none is known.

    Reads infra.local.stack (branch `local`) when it is installed; kept behind this one function so the
    lookup changes in one place.
    """
    try:
        stack_module: Any = importlib.import_module("infra.local.stack")
    except ModuleNotFoundError:
        return None
    info = stack_module.LocalStack.status() if hasattr(stack_module, "LocalStack") else None
    if info is None:
        return None
    data = info.to_dict() if hasattr(info, "to_dict") else dict(info.__dict__)
    endpoint = data.get("kinesis_endpoint_url") or data.get("endpoint_url")
    stream = data.get("InputStreamName") or data.get("input_stream_name")
    return (str(endpoint), str(stream)) if endpoint and stream else None


def local_target(endpoint_url: str | None, stream: str | None) -> tuple[Target, str]:
    if not endpoint_url:
        found = local_stack_endpoints()
        if found is None:
            raise LoadgenError(
                "no running local stack found: start one with `cdrcap up`, or pass --endpoint-url "
                "(the emulator or limits proxy URL) and --stream"
            )
        endpoint_url, stream = found[0], stream or found[1]
    stream = stream or DEFAULT_INPUT_STREAM
    if not endpoint_url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
        raise LoadgenError(f"--endpoint-url {endpoint_url} is not on loopback; a local target must be")
    target = Target(
        name="local",
        endpoint_url=endpoint_url,
        kinesis_endpoint_url=endpoint_url,
        is_local=True,
        allowed_streams=(stream,),
    )
    return target, stream


def configured_target(name: str, config_dirs: tuple[Path, ...] = (Path.cwd(),)) -> Target:
    """A non-local target from `[tool.cdrcap.targets.<name>]` (pyproject.toml) or `[targets.<name>]`
    (cdrcap.toml): region, profile, endpoint_url (optional), allowed_streams (required)."""
    for directory in config_dirs:
        for file_name, prefix in (("cdrcap.toml", ()), ("pyproject.toml", ("tool", "cdrcap"))):
            path = directory / file_name
            if not path.is_file():
                continue
            table: Any = tomllib.loads(path.read_text())
            for key in (*prefix, "targets", name):
                table = table.get(key, {}) if isinstance(table, dict) else {}
            if table:
                return Target(
                    name=name,
                    region=table.get("region", "us-east-1"),
                    profile=table.get("profile"),
                    endpoint_url=table.get("endpoint_url"),
                    allowed_streams=tuple(table.get("allowed_streams", ())),
                )
    raise LoadgenError(
        f"target {name!r} is not configured. Add to pyproject.toml:\n"
        f'  [tool.cdrcap.targets.{name}]\n  region = "eu-west-1"\n  profile = "staging"\n'
        f'  allowed_streams = ["{DEFAULT_INPUT_STREAM}"]'
    )
