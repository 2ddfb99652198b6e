"""A CPU-bound child process and its share of one core: what the CPU limiter's test and bench measure."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from infra.local.cpu_limit import process_cpu_s

BUSY_LOOP = "while True:\n    pass\n"


@contextmanager
def busy_child() -> Iterator[int]:
    """A Python process spinning on one core; stopped (and reaped) on exit. Yields its pid."""
    process = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait(timeout=10)


def cpu_fraction(pid: int, seconds: float) -> float:
    """CPU time the process used over `seconds` of wall time, divided by that wall time (1.0 = a core)."""
    cpu_before, wall_before = process_cpu_s(pid), time.monotonic()
    time.sleep(seconds)
    return (process_cpu_s(pid) - cpu_before) / (time.monotonic() - wall_before)
