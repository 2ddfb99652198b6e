"""The `local` target: the running local stack (infra.local.stack), or explicit loopback endpoint flags.

Configured (AWS) targets come from cdrcap.config (`[tool.cdrcap.targets.<name>]`), resolved by the CLI.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.aws import Target
from loadgen.errors import LoadgenError, StreamNotAllowed
from loadgen.options import is_loopback_url
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
    if not is_loopback_url(endpoint_url):
        raise LoadgenError(f"--endpoint-url {endpoint_url} is not on loopback; a local target must be")
    target = Target(
        name="local",
        endpoint_url=endpoint_url,
        kinesis_endpoint_url=endpoint_url,
        is_local=True,
        allowed_streams=(stream,),
    )
    return LocalTarget(target, stream, 1.0)
