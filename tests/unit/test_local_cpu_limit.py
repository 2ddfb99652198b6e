"""The CPU share a memory size buys, and the limiters' arithmetic (no process is limited here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local import cpu_limit
from infra.local.cpu_limit import CgroupLimiter, CpuLimitError, cfs_quota_us, cpu_share, make_limiter


@pytest.mark.parametrize(
    ("memory_mb", "threads", "share"),
    [
        (1_769, 1, 1.0),  # one vCPU
        (512, 1, 512 / 1_769),  # a fraction of a core, in proportion to memory
        (128, 1, 128 / 1_769),
        (3_008, 1, 1.0),  # a single-threaded handler gets no more than one core
        (3_008, 4, 3_008 / 1_769),
        (10_240, 8, 10_240 / 1_769),  # 5.8 cores at the largest size (Lambda: "up to 6 vCPU")
    ],
)
def test_cpu_share_is_memory_over_1769_capped_by_threads_and_six_vcpu(
    memory_mb: int, threads: int, share: float
) -> None:
    assert cpu_share(memory_mb, threads) == pytest.approx(share)


@pytest.mark.parametrize("memory_mb", [64, 127, 10_241])
def test_a_memory_outside_lambdas_range_is_refused_naming_it(memory_mb: int) -> None:
    with pytest.raises(CpuLimitError, match=f"memory {memory_mb} MB"):
        cpu_share(memory_mb)


def test_cfs_quota_is_the_share_of_the_period_and_never_under_one_ms() -> None:
    assert cfs_quota_us(0.25) == 25_000
    assert cfs_quota_us(1.0) == 100_000
    assert cfs_quota_us(2.5) == 250_000
    assert cfs_quota_us(0.001) == 1_000  # the kernel refuses quotas under 1 ms
    with pytest.raises(CpuLimitError, match="share 0"):
        cfs_quota_us(0)


def test_an_unknown_limiter_kind_is_refused_and_none_means_unlimited() -> None:
    with pytest.raises(CpuLimitError, match="'cpulimit'"):
        make_limiter("cpulimit")
    assert make_limiter("none") is None


def test_a_cgroup_v1_group_gets_the_quota_and_the_pid(tmp_path: Path) -> None:
    # Given a fake v1 hierarchy (plain files where the kernel has its interface files)
    limiter = CgroupLimiter(tmp_path, 1)
    # When a worker is attached at a quarter of a core
    limiter.attach(4242, 0.25)
    group = tmp_path / f"{cpu_limit.GROUP_PREFIX}4242"
    # Then its group holds the quota for that share and the pid
    assert (group / "cpu.cfs_period_us").read_text() == "100000"
    assert (group / "cpu.cfs_quota_us").read_text() == "25000"
    assert (group / "cgroup.procs").read_text() == "4242"
    assert (group / "cpu.shares").read_text() == "1024"  # no autogroup for that pid: nice 0's weight
    assert limiter.kind == "cgroup-v1"


def test_a_cgroup_v2_group_writes_cpu_max(tmp_path: Path) -> None:
    limiter = CgroupLimiter(tmp_path, 2)
    limiter.attach(7, 0.5)
    assert (tmp_path / f"{cpu_limit.GROUP_PREFIX}7" / "cpu.max").read_text() == "50000 100000"
    assert limiter.kind == "cgroup-v2"


def test_nice_weights_follow_the_kernels_table() -> None:
    assert cpu_limit.nice_weight(0) == 1024
    assert cpu_limit.nice_weight(-10) == pytest.approx(9548, rel=0.01)
    assert cpu_limit.nice_weight(19) == pytest.approx(15, abs=1)


def test_sweep_removes_only_empty_groups_of_dead_workers(tmp_path: Path) -> None:
    dead = tmp_path / f"{cpu_limit.GROUP_PREFIX}999999999"
    alive = tmp_path / f"{cpu_limit.GROUP_PREFIX}1"  # pid 1 is alive
    foreign = tmp_path / "someone-else-999999999"
    for group in (dead, alive, foreign):
        group.mkdir()
    assert cpu_limit.sweep_stale_groups(tmp_path) == 1
    assert not dead.exists() and alive.exists() and foreign.exists()
