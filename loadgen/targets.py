"""Resolve a target name to an `infra.aws.Target`: `local` from the running local stack (or explicit
endpoint flags), any other name from `[tool.cdrcap.targets.<name>]` in pyproject.toml / cdrcap.toml."""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.aws import Target
from loadgen.errors import LoadgenError, StreamNotAllowed
from pipeline.constants import DEFAULT_STACK_NAME, INPUT_STREAM_SUFFIX, resource_name

DEFAULT_INPUT_STREAM = resource_name(DEFAULT_STACK_NAME, INPUT_STREAM_SUFFIX)


@dataclass(frozen=True)
class LocalTarget:
    target: Target
    stream: str
    shard_limit_scale: float  # the limits proxy enforces AWS's per-shard limits x this


def local_stack_target(state_dir: Path | None = None) -> LocalTarget | None:
    """The running local stack (infra.local.stack, branch `local`), or None if none is up.

    Kept behind this one function (and imported lazily) so the lookup changes in one place.
    """
    try:
        stack_module: Any = importlib.import_module("infra.local.stack")
    except ModuleNotFoundError:
        return None
    stack = stack_module.LocalStack(state_dir) if state_dir else stack_module.LocalStack()
    info = stack.status()
    if info is None or (hasattr(stack, "alive") and not any(stack.alive().values())):
        return None
    scale = float(getattr(getattr(info, "config", None), "scale", 1.0))
    return LocalTarget(info.target(), info.input_stream_name, scale)


def local_target(endpoint_url: str | None, stream: str | None, state_dir: Path | None = None) -> LocalTarget:
    """`--target local`: explicit endpoint flags win; otherwise the running local stack."""
    if not endpoint_url:
        found = local_stack_target(state_dir)
        if found is None:
            raise LoadgenError(
                "no running local stack found: start one with `cdrcap up`, or pass --endpoint-url "
                "(the emulator or limits proxy URL) and --stream"
            )
        if stream and stream not in found.target.allowed_streams:
            raise StreamNotAllowed(
                f"stream {stream!r} is not a stream of the local stack "
                f"(allowed: {', '.join(found.target.allowed_streams)}); drop --stream to use the input stream"
            )
        return LocalTarget(found.target, stream or found.stream, found.shard_limit_scale)
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
    return LocalTarget(target, stream, 1.0)


def configured_target(name: str, config_dirs: tuple[Path, ...] | None = None) -> Target:
    """A non-local target from `[tool.cdrcap.targets.<name>]` (pyproject.toml) or `[targets.<name>]`
    (cdrcap.toml): region, profile, endpoint_url (optional), allowed_streams (required)."""
    for directory in config_dirs or (Path.cwd(),):
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
