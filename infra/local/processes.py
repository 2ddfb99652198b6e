"""Start the stack's background processes detached, wait until they serve, and stop them by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from infra.errors import InfraError
from infra.local.emulator import LOOPBACK, pid_alive, wait_until


class ProcessStartError(InfraError):
    """A background process exited or never became ready; the message points at its log."""


def spawn_module(
    module: str, arguments: list[str], *, log_path: Path, env: dict[str, str] | None = None
) -> int:
    """`python -m module ...` in its own session (Ctrl-C in a terminal must not reach it); returns its PID."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *arguments],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    _CHILDREN[process.pid] = process
    return process.pid


# Popen objects of children started by this process, so stopping them also reaps them (no zombies).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def adopt(process: subprocess.Popen[bytes] | None) -> None:
    """Remember a child started elsewhere (the emulator) so `stop_pid` reaps it too."""
    if process is not None:
        _CHILDREN[process.pid] = process


def accepts_connections(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(pid: int, port: int, *, timeout_s: float, log_path: Path) -> None:
    ready = wait_until(lambda: not pid_alive(pid) or accepts_connections(port), timeout_s)
    if not pid_alive(pid):
        raise ProcessStartError(f"process {pid} exited at start; see {log_path}")
    if not ready:
        raise ProcessStartError(
            f"process {pid} did not listen on port {port} within {timeout_s:.0f} s; see {log_path}"
        )


def stop_pid(pid: int, *, timeout_s: float, process_group: bool = False) -> bool:
    """SIGTERM, then SIGKILL after `timeout_s`; with `process_group`, also whatever it left in its group.

    Returns True when it had to kill. Only PIDs this project wrote to its state file reach here.
    """
    killed = False
    if pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        if not wait_until(lambda: not pid_alive(pid), timeout_s):
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(pid), 5.0)
            killed = True
    if process_group:
        # The runtime's worker processes share its process group (its session); none may outlive it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.wait(timeout=5)
    return killed
