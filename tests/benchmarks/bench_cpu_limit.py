"""Accuracy of the local runtime's CPU limiters: a CPU-bound loop at 25/50/100 % of a core.

For each limiter this host can run (cgroup v2 or v1 when writable, and the duty-cycle limiter always), a
spinning child is put under a share and its CPU time over wall time is measured (MEASURE_S), right after
the same child unlimited (the host's reference: on a shared host even an unlimited loop gets only what the
scheduler gives). The error is measured / min(share, reference) - 1: a share above what the host gives
shows the limiter's overhead rather than its cap.
"""

from __future__ import annotations

from typing import Any

from infra.local import cpu_limit
from infra.local.cpu_limit import make_limiter
from tests.support.cpu_child import busy_child, cpu_fraction

SHARES = (0.25, 0.5, 1.0)
MEASURE_S = 5.0
TOLERANCE = 0.10  # the target: within 10 % of the share


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
        with busy_child() as pid:
            limiter.attach(pid, share)
            return cpu_fraction(pid, MEASURE_S)
    finally:
        limiter.close()


def _reference() -> float:
    with busy_child() as pid:
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
            metrics.append(
                {
                    "name": f"{kind} at {share:.0%}: error vs min(share, unlimited)",
                    "value": round(error * 100, 1),
                    "unit": "%",
                    "target": f"within +-{TOLERANCE:.0%}",
                    "met": abs(error) <= TOLERANCE,
                }
            )
    return {"title": "CPU limiter accuracy (local runtime, Lambda's CPU share of memory)", "metrics": metrics}
