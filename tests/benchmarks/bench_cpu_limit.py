"""Accuracy of the local runtime's CPU limiters: a CPU-bound loop at 25/50/100 % of a core.

For each limiter this host can run (cgroup v2 or v1 when writable, and the duty-cycle limiter always), a
spinning child (at a raised priority, NICENESS) is put under a share and its CPU time over wall time is
measured (MEASURE_S), right after the same child unlimited (the host's reference: on a shared host even an
unlimited loop gets only what the scheduler gives). The error is measured / min(share, reference) - 1; a
share above what the host gives shows the limiter's overhead rather than its cap and gets no verdict.
"""

from __future__ import annotations

from typing import Any

from infra.local import cpu_limit
from infra.local.cpu_limit import make_limiter
from tests.support.cpu_child import busy_child, cpu_fraction

SHARES = (0.1, 0.25, 0.5, 1.0)  # 0.1: ~177 MB; 0.25: ~442 MB; 0.5: ~885 MB; 1.0: 1,769 MB
MEASURE_S = 4.0
TOLERANCE = 0.10  # the target: within 10 % of the share
# The spinning child runs at this niceness (root: a higher priority) so the shared host's load does not
# decide what it gets; a share the host still cannot give (above HOST_BOUND x the unlimited reference)
# says nothing about the limiter and gets no verdict.
NICENESS = -10
HOST_BOUND = 0.9


def _kinds() -> list[str]:
    kinds = []
    if cpu_limit._cgroup_v2_base() is not None:
        kinds.append("cgroup-v2")
    if cpu_limit._cgroup_v1_base() is not None:
        kinds.append("cgroup-v1")
    return [*kinds, "duty-cycle"]


def _measure(kind: str, share: float) -> float:
    limiter = make_limiter(kind)
    assert limiter is not None
    try:
        with busy_child(NICENESS) as pid:
            limiter.attach(pid, share)
            return cpu_fraction(pid, MEASURE_S)
    finally:
        limiter.close()


def _reference() -> float:
    with busy_child(NICENESS) as pid:
        return cpu_fraction(pid, MEASURE_S)


def run() -> dict[str, Any]:
    metrics: list[dict[str, Any]] = []
    for kind in _kinds():
        for share in SHARES:
            # The host's reference just before: a limiter cannot give more than the scheduler does.
            reference = _reference()
            measured = _measure(kind, share)
            expected = min(share, reference)
            error = measured / expected - 1.0
            metrics.append(
                {
                    "name": f"{kind} at {share:.0%}: measured (unlimited loop just before: {reference:.2f})",
                    "value": round(measured, 3),
                    "unit": "cores",
                }
            )
            host_bound = share > HOST_BOUND * reference
            metrics.append(
                {
                    "name": f"{kind} at {share:.0%}: error vs min(share, unlimited)",
                    "value": round(error * 100, 1),
                    "unit": "%",
                    "target": "host-bound: no verdict" if host_bound else f"within +-{TOLERANCE:.0%}",
                    "met": None if host_bound else abs(error) <= TOLERANCE,
                }
            )
    return {
        "title": "CPU limiter accuracy (local runtime, Lambda's CPU share of memory)",
        "metrics": metrics,
        "notes": f"`python -m tests.benchmarks cpu_limit`. A spinning Python loop, {MEASURE_S:g} s each, "
        f"in a session of its own at autogroup nice {NICENESS} (so other sessions' work does not decide "
        "what it gets), right after the same loop unlimited; error = measured / min(share, unlimited) - 1. "
        "infra/local/cpu_limit.py, docs/local.md.",
    }
