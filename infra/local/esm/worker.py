"""What runs inside a worker process: import the handler once, then invoke it per batch like Lambda.

Like Lambda's runtime client, this module is the part of the runtime that lives outside the function: with a
task root it switches the process to the function's environment (the unpacked zip, the runtime's boto3,
the standard library: infra/lambda_env.py) before it imports the handler, so it imports nothing but the
standard library and the two harness modules it keeps (RUNTIME_KEEPS) itself.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from infra import lambda_env
from infra.local import cpu_limit, faults
from infra.local.esm import lambda_logs

# The runtime's own modules, kept importable after the switch (the pool pickles calls to this module, and
# the results carry lambda_logs' InvocationLog).
RUNTIME_KEEPS = (__name__, lambda_env.__name__, faults.__name__, lambda_logs.__name__, cpu_limit.__name__)

_handler: Any = None
_init_error: str | None = None


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of Lambda's context object that handlers use."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    deadline_epoch_s: float
    function_version: str = "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return lambda_logs.log_stream_name()

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_epoch_s - time.time()) * 1000))


@dataclass(frozen=True)
class InvokeResult:
    request_id: str
    start_epoch_ms: float
    end_epoch_ms: float
    response: Any = None
    error: str | None = None  # "Type: message" of an unhandled exception (Lambda's "Unhandled")
    timed_out: bool = False
    log: lambda_logs.InvocationLog | None = None  # its CloudWatch Logs lines and REPORT figures


def init_worker(
    handler_path: str,
    env: dict[str, str],
    stdout_path: str | None = None,
    task_root: str | None = None,
    runtime_dir: str | None = None,
    cpu_share: float | None = None,
) -> None:
    """Pool initializer: the cold start. An import error is reported by every invocation, not raised.

    With `cpu_share` the worker first puts itself under that share when a cgroup can hold it, so the
    handler's import (Lambda's INIT) runs at the memory's CPU share as its invocations do.

    The handler's stdout (its EMF metric lines, as CloudWatch Logs would get them) goes to `stdout_path`.
    With `task_root` (and `runtime_dir`, the runtime's boto3) the handler is imported from there and from
    nothing else of this interpreter's environment; without, from the project (the tests' own handlers).
    """
    global _handler, _init_error
    if cpu_share is not None:
        cpu_limit.limit_this_process(cpu_share)
    init_started_s = time.time()
    if stdout_path:
        sys.stdout = open(stdout_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the worker
    os.environ.update(env)
    if task_root is not None and runtime_dir is not None:
        lambda_env.enter(Path(task_root), Path(runtime_dir), keep=RUNTIME_KEEPS)
        os.chdir(task_root)  # Lambda's working directory is the task root
    module_name, _, attribute = handler_path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        _handler = getattr(module, attribute)
        faults.install_from_env(module)  # test-only: a no-op unless CDRCAP_FAULT_INJECTION=1
    except Exception as error:  # any import-time failure is the function's init error
        _init_error = f"Runtime.ImportModuleError: {type(error).__name__}: {error}"
    lambda_logs.capture_output(init_started_s)


class InvocationTimeout(BaseException):
    """Raised in the handler by SIGALRM at the function timeout; a BaseException so `except Exception`
    in handler code cannot swallow it (Lambda stops the function whatever it is doing)."""


def _on_alarm(signum: int, frame: object) -> None:
    raise InvocationTimeout


def ready(hold_s: float) -> int:
    """A no-op task: submitted once per worker at start so every process is spawned and has imported the
    handler (Lambda's INIT) before the first batch, instead of charging ~0.5 s of spawn to it."""
    time.sleep(hold_s)
    return os.getpid()


def invoke(
    event: bytes, function_name: str, function_arn: str, memory_mb: int, timeout_s: float
) -> InvokeResult:
    result = _invoke(event, function_name, function_arn, memory_mb, timeout_s)
    return replace(result, log=lambda_logs.finish_invocation(None if result.timed_out else result.error))


def _invoke(
    event: bytes, function_name: str, function_arn: str, memory_mb: int, timeout_s: float
) -> InvokeResult:
    request_id = str(uuid.uuid4())
    start_s = time.time()
    if _init_error is not None:
        return InvokeResult(request_id, start_s * 1000, time.time() * 1000, error=_init_error)
    context = LambdaContext(function_name, function_arn, memory_mb, request_id, start_s + timeout_s)
    # The pool runs tasks on the worker's main thread, where signal handlers run: the timeout interrupts
    # the handler between bytecodes or in a blocking call (PEP 475 lets the exception through).
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        # json, not orjson: the runtime must not load a library the function may not have zipped.
        response = _handler(json.loads(event), context)
        # A response Lambda could not serialise is a function error there too.
        response = json.loads(json.dumps(response)) if response is not None else None
    except InvocationTimeout:
        return InvokeResult(
            request_id,
            start_s * 1000,
            time.time() * 1000,
            error=f"Task timed out after {timeout_s:.2f} seconds",
            timed_out=True,
        )
    except Exception as error:  # the handler's unhandled error is data for the runtime
        traceback.print_exc()
        return InvokeResult(
            request_id, start_s * 1000, time.time() * 1000, error=f"{type(error).__name__}: {error}"
        )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return InvokeResult(request_id, start_s * 1000, time.time() * 1000, response=response)
