"""The CPU limiters on real processes: a CPU-bound child at a 25 % share gets about a quarter of a core.

No timed assertion on the host's speed: the measure is the child's CPU time over wall time, with a generous
band above (a limiter that does nothing lets the child take a whole core on an idle host); the precise
accuracy at 25/50/100 % is the bench's (tests/benchmarks/bench_cpu_limit.py, docs/benchmarks.md).
"""

from __future__ import annotations

import pytest

from infra.local import cpu_limit
from infra.local.cpu_limit import Limiter, make_limiter
from tests.support.cpu_child import busy_child, cpu_fraction

SHARE = 0.25
MEASURE_S = 2.0
UPPER_BAND = 1.5  # the child may get at most 1.5 x its share (37.5 % of a core)


def _kinds() -> list[str]:
    kinds = ["duty-cycle"]
    if cpu_limit._cgroup_v2_base() is not None:
        kinds.append("cgroup-v2")
    if cpu_limit._cgroup_v1_base() is not None:
        kinds.append("cgroup-v1")
    return kinds


@pytest.mark.parametrize("kind", _kinds())
def test_a_cpu_bound_child_at_a_quarter_share_gets_about_a_quarter_of_a_core(kind: str) -> None:
    limiter: Limiter | None = make_limiter(kind)
    assert limiter is not None
    try:
        with busy_child() as pid:
            # Given a CPU-bound child under the limiter at 25 %
            limiter.attach(pid, SHARE)
            # When it spins for a while
            fraction = cpu_fraction(pid, MEASURE_S)
            # Then it used about a quarter of a core, not the whole core it wants
            assert 0.0 < fraction <= SHARE * UPPER_BAND, f"{kind}: {fraction:.2f} of a core"
            # And released, it leaves no group of its own behind
            limiter.release(pid)
            if isinstance(limiter, cpu_limit.CgroupLimiter):
                assert not (limiter.base / f"{cpu_limit.GROUP_PREFIX}{pid}").exists()
    finally:
        limiter.close()
