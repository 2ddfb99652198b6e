"""The local stack's Glue Schema Registry (moto, infra/local/glue_server.py) started alone for a test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.local import processes
from infra.local.emulator import free_port


@contextmanager
def glue_registry(log_dir: Path) -> Iterator[str]:
    """The endpoint URL of a Glue server on a free loopback port, stopped (by its PID) afterwards."""
    port = free_port()
    log_path = log_dir / "glue-registry.log"
    pid = processes.spawn_module("infra.local.glue_server", ["--port", str(port)], log_path=log_path)
    try:
        processes.wait_for_port(pid, port, timeout_s=60.0, log_path=log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        processes.stop_pid(pid, timeout_s=10.0)
