"""The local stack's test inputs: the contract template and a free pair of loopback ports."""

from __future__ import annotations

import socket
from pathlib import Path

from infra.local.emulator import free_port

TEMPLATE = Path(__file__).parent / "data" / "pipeline_contract.yaml"


def two_free_ports() -> int:
    """A free loopback port whose neighbour is free too (the stack takes port and port + 1)."""
    for _ in range(20):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two adjacent free ports")
