"""A CPU-bound child process and its share of one core: what the CPU limiter's test and bench measure."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.local.cpu_limit import BUSY_LOOP, process_cpu_s


@contextmanager
def busy_child(niceness: int = 0) -> Iterator[int]:
    """A Python process spinning on one core; stopped (and reaped) on exit. Yields its pid.

    With a `niceness` it runs in a session of its own whose scheduler autogroup gets that niceness (root
    only; with autogroups a process's own nice value counts only within its session): it then wins the
    shared host's scheduler against other work, so what caps it is the limiter under test."""
    process = subprocess.Popen([sys.executable, "-c", BUSY_LOOP], start_new_session=bool(niceness))
    if niceness:
        autogroup = Path(f"/proc/{process.pid}/autogroup")
        if autogroup.exists():
            autogroup.write_text(str(niceness))
        os.setpriority(os.PRIO_PROCESS, process.pid, niceness)
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
