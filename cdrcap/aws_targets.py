"""From a configured AWS-kind target to the boto3 target the staging code path uses.

A target with `local_stack_state_dir` (the built-in `emulator`) is the running local stack: its endpoints
(the emulator, and the limits proxy for Kinesis) come from the stack's state file, the one
`cdrcap status --json` prints, so `deploy` and `run` take exactly the staging path against the emulator.
"""

from __future__ import annotations

from pathlib import Path

from cdrcap.config import Target as ConfigTarget
from cdrcap.errors import CdrcapError
from infra.aws import Target
from infra.local.stack import LocalStack, StackInfo


def running_local_stack(configured: ConfigTarget) -> tuple[LocalStack, StackInfo]:
    """The local stack a target points at; exit 2 naming the command that starts it when none runs."""
    assert configured.local_stack_state_dir is not None
    stack = LocalStack(Path(configured.local_stack_state_dir))
    info = stack.status()
    alive = stack.alive()
    if info is None or not alive or not all(alive.values()):
        state = (
            "is not running"
            if info is None
            else "has stopped processes: " + ", ".join(name for name, up in alive.items() if not up)
        )
        raise CdrcapError(
            f"target {configured.name!r} needs the local stack from {stack.state_dir}, which {state}; "
            f"start it with `cdrcap up --state-dir {configured.local_stack_state_dir}` "
            "(then `cdrcap deploy --target emulator --params params.json`)"
        )
    return stack, info


def aws_target(configured: ConfigTarget, *, region: str | None = None, profile: str | None = None) -> Target:
    """The boto3 target of an AWS-kind configured target (the emulator's endpoints for `emulator`)."""
    if configured.local_stack_state_dir is None:
        return Target(
            name=configured.name,
            region=region or configured.region,
            profile=profile or configured.aws_profile,
            endpoint_url=configured.endpoint_url,
            allowed_streams=configured.allowed_streams,
        )
    _, info = running_local_stack(configured)
    return Target(
        name=configured.name,
        region=info.region,
        endpoint_url=info.endpoint_url,
        kinesis_endpoint_url=info.kinesis_endpoint_url,
        allowed_streams=configured.allowed_streams or (info.input_stream_name,),
        emulator=True,
        glue_endpoint_url=info.glue_endpoint_url or None,  # the stack's schema registry (moto)
    )
