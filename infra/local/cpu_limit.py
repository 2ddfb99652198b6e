"""The CPU share Lambda gives a memory size, enforced on the local runtime's worker processes.

Lambda allocates CPU in proportion to memory: 1,769 MB is one vCPU, up to 6 vCPU at 10,240 MB; a
single-threaded handler uses at most one of them. Each worker (one execution environment) gets that share
of a core from a real limiter, chosen once per host, best first:

- cgroup v2: a child group per worker with `cpu.max` = "quota period" (the cpu controller enabled);
- cgroup v1: a child group of the cpu controller with `cpu.cfs_quota_us` / `cpu.cfs_period_us` (the
  kernel's CFS bandwidth control, as Lambda's own sandboxes use);
- duty cycle: a thread of the owning process that reads each worker's CPU time and SIGSTOPs it for as long
  as it ran over its budget, then SIGCONTs it (cpulimit's method, without the apt package). A worker that
  waits on I/O spends no budget, so it is never stopped while it waits.

The limiter's accuracy (a CPU-bound loop at 25/50/100 %) is measured by tests/benchmarks/bench_cpu_limit.py.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from capacity import quotas
from infra.errors import InfraError

LOG = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_V1_CPU = CGROUP_ROOT / "cpu"
CFS_PERIOD_US = 100_000  # the kernel's default CFS period
GROUP_PREFIX = "cdrcap-cpu-"  # one group per worker pid; only groups with this prefix are ever removed
DUTY_TICK_S = 0.005  # how often the duty-cycle limiter reads CPU times
DUTY_PERIOD_S = 0.1  # its budget window, as the CFS period: a worker may burst this window's quota
LIMITER_ENV = "CDRCAP_CPU_LIMITER"  # force one: cgroup-v2, cgroup-v1, duty-cycle, none
LIMITER_KINDS = ("cgroup-v2", "cgroup-v1", "duty-cycle", "none")


class CpuLimitError(InfraError):
    """A CPU share that cannot be given, or a limiter this host cannot run; the message names which."""


def cpu_share(memory_mb: int, handler_threads: int = 1) -> float:
    """Cores a Lambda function of `memory_mb` may use: memory / 1,769 MB, at most 6 vCPU, and at most one
    core per thread the handler runs (the pipeline's handler is single-threaded)."""
    if not quotas.LAMBDA_MEMORY_MB_MIN <= memory_mb <= quotas.LAMBDA_MEMORY_MB_MAX:
        raise CpuLimitError(
            f"memory {memory_mb} MB is outside Lambda's {quotas.LAMBDA_MEMORY_MB_MIN}-"
            f"{quotas.LAMBDA_MEMORY_MB_MAX} MB; pick a size in that range"
        )
    if handler_threads < 1:
        raise CpuLimitError(f"handler_threads {handler_threads} must be >= 1")
    return min(memory_mb / quotas.LAMBDA_MB_PER_VCPU, float(quotas.LAMBDA_MAX_VCPU), float(handler_threads))


def cfs_quota_us(share: float, period_us: int = CFS_PERIOD_US) -> int:
    """The CFS quota for `share` cores per period (the kernel refuses quotas under 1 ms)."""
    if share <= 0:
        raise CpuLimitError(f"CPU share {share} must be > 0")
    return max(1_000, round(share * period_us))


class Limiter(Protocol):
    kind: str

    def attach(self, pid: int, share: float) -> None: ...

    def release(self, pid: int) -> None: ...

    def close(self) -> None: ...


def _own_cgroup(controller: str) -> str:
    """This process's group in a v1 controller's hierarchy ("" for v2), from /proc/self/cgroup."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path.lstrip("/")
    return ""


def _write(path: Path, value: str) -> None:
    path.write_text(value)


@dataclass
class CgroupLimiter:
    """One child group per worker under this process's own group (v1 cpu controller or v2 with `cpu`)."""

    base: Path  # the group new groups go under
    version: int  # 1 or 2
    kind: str = ""
    _groups: dict[int, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kind = f"cgroup-v{self.version}"

    def attach(self, pid: int, share: float) -> None:
        group = self.base / f"{GROUP_PREFIX}{pid}"
        group.mkdir(exist_ok=True)
        quota = cfs_quota_us(share)
        # Out of the root group a process leaves its session's autogroup: the group keeps the scheduling
        # weight it had there, so the limiter caps it without also changing its priority against others.
        weight = nice_weight(autogroup_nice(pid))
        if self.version == 2:
            _write(group / "cpu.max", f"{quota} {CFS_PERIOD_US}")
            _write(group / "cpu.weight", str(max(1, min(10_000, round(weight * 100 / 1024)))))
        else:
            _write(group / "cpu.cfs_period_us", str(CFS_PERIOD_US))
            _write(group / "cpu.cfs_quota_us", str(quota))
            _write(group / "cpu.shares", str(weight))
        _write(group / "cgroup.procs", str(pid))
        self._groups[pid] = group

    def release(self, pid: int) -> None:
        group = self._groups.pop(pid, None)
        if group is None:
            return
        with contextlib.suppress(OSError):  # the worker may have exited already: then the group is empty
            _write(self.base / "cgroup.procs", str(pid))
        with contextlib.suppress(OSError):
            group.rmdir()

    def close(self) -> None:
        for pid in list(self._groups):
            self.release(pid)
        sweep_stale_groups(self.base)


def autogroup_nice(pid: int) -> int:
    """The niceness of the process's scheduler autogroup (its session's), 0 where there is none."""
    try:
        return int(Path(f"/proc/{pid}/autogroup").read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return 0


def nice_weight(nice: int) -> int:
    """The kernel's CFS weight of a niceness (sched_prio_to_weight: 1024 at 0, x1.25 per step)."""
    return max(2, round(1024 / 1.25 ** max(-20, min(19, nice))))


def sweep_stale_groups(base: Path) -> int:
    """Remove the empty groups this module made for workers that are gone; returns how many."""
    removed = 0
    for group in base.glob(f"{GROUP_PREFIX}*"):
        pid_text = group.name.removeprefix(GROUP_PREFIX)
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        try:
            group.rmdir()  # refuses (EBUSY) while a process is still in it
            removed += 1
        except OSError:
            continue
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


BUSY_LOOP = "while True:\n    pass\n"


def available_cores(seconds: float = 1.0) -> float:
    """What this host gives an unlimited CPU-bound process of this session now, in cores: a share above
    it is capped by the host's other work, not by a limiter (on a shared machine, often well under 1)."""
    process = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        time.sleep(0.1)  # past the interpreter's start-up
        cpu_before_s, wall_before_s = process_cpu_s(process.pid), time.monotonic()
        time.sleep(seconds)
        return (process_cpu_s(process.pid) - cpu_before_s) / (time.monotonic() - wall_before_s)
    finally:
        process.kill()
        process.wait(timeout=10)


def process_cpu_s(pid: int) -> float:
    """CPU time a process has used, in seconds (ns resolution from schedstat where the kernel has it)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class _Budget:
    share: float
    last_cpu_s: float
    tokens_s: float  # CPU seconds it may still use in the current window (negative: it ran over)
    stopped_until: float = 0.0


class DutyCycleLimiter:
    """SIGSTOP/SIGCONT from a thread, against a token bucket of share x DUTY_PERIOD_S CPU seconds."""

    kind = "duty-cycle"

    def __init__(self, tick_s: float = DUTY_TICK_S, period_s: float = DUTY_PERIOD_S) -> None:
        self._tick_s = tick_s
        self._period_s = period_s
        self._budgets: dict[int, _Budget] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-duty-cycle", daemon=True)
        self._thread.start()

    def attach(self, pid: int, share: float) -> None:
        cfs_quota_us(share)  # the same validation as the cgroups
        with self._lock:
            self._budgets[pid] = _Budget(share, process_cpu_s(pid), share * self._period_s)

    def release(self, pid: int) -> None:
        with self._lock:
            budget = self._budgets.pop(pid, None)
        if budget is not None:
            _signal(pid, signal.SIGCONT)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        for pid in list(self._budgets):
            self.release(pid)

    def _run(self) -> None:
        last_s = time.monotonic()
        while not self._stop.wait(self._tick_s):
            now_s = time.monotonic()
            elapsed_s, last_s = now_s - last_s, now_s
            with self._lock:
                budgets = list(self._budgets.items())
            for pid, budget in budgets:
                self._tick(pid, budget, now_s, elapsed_s)

    def _tick(self, pid: int, budget: _Budget, now_s: float, elapsed_s: float) -> None:
        try:
            cpu_s = process_cpu_s(pid)
        except OSError:  # gone: forget it
            with self._lock:
                self._budgets.pop(pid, None)
            return
        used_s, budget.last_cpu_s = cpu_s - budget.last_cpu_s, cpu_s
        quota_s = budget.share * self._period_s
        budget.tokens_s = min(budget.tokens_s + budget.share * elapsed_s, quota_s) - used_s
        if budget.stopped_until:
            if now_s < budget.stopped_until:
                return
            budget.stopped_until = 0.0
            _signal(pid, signal.SIGCONT)
        if budget.tokens_s < 0:
            # stopped until the refill pays the debt back
            budget.stopped_until = now_s + -budget.tokens_s / budget.share
            _signal(pid, signal.SIGSTOP)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _cgroup_v2_base() -> Path | None:
    for root in (CGROUP_ROOT, CGROUP_ROOT / "unified"):
        controllers = root / "cgroup.controllers"
        if not controllers.exists() or "cpu" not in controllers.read_text().split():
            continue
        base = root / _own_cgroup("")
        if "cpu" in (base / "cgroup.subtree_control").read_text().split() and os.access(base, os.W_OK):
            return base
    return None


def _cgroup_v1_base() -> Path | None:
    if not (CGROUP_V1_CPU / "cpu.cfs_quota_us").exists():
        return None
    base = CGROUP_V1_CPU / _own_cgroup("cpu")
    return base if os.access(base, os.W_OK) and (base / "cpu.cfs_quota_us").exists() else None


def _probe(limiter: CgroupLimiter) -> bool:
    """A group can really be made here (a read-only or delegated-away hierarchy says no only on write)."""
    probe = limiter.base / f"{GROUP_PREFIX}probe-{os.getpid()}"
    try:
        probe.mkdir(exist_ok=True)
        probe.rmdir()
    except OSError as error:
        LOG.info("cannot make a cgroup under %s (%s)", limiter.base, errno.errorcode.get(error.errno or 0))
        return False
    return True


def make_limiter(kind: str | None = None) -> Limiter | None:
    """The best limiter this host allows (or `kind`, or $CDRCAP_CPU_LIMITER); None for "none"."""
    kind = kind or os.environ.get(LIMITER_ENV) or None
    if kind is not None and kind not in LIMITER_KINDS:
        raise CpuLimitError(f"CPU limiter {kind!r}: use one of {', '.join(LIMITER_KINDS)}")
    if kind == "none":
        return None
    if kind in (None, "cgroup-v2", "cgroup-v1"):
        cgroup = cgroup_limiter(kind)
        if cgroup is not None:
            return cgroup
        if kind is not None:
            raise CpuLimitError(f"{kind} (with the cpu controller) is not writable here; use duty-cycle")
    return DutyCycleLimiter()


def cgroup_limiter(kind: str | None = None) -> CgroupLimiter | None:
    """A cgroup limiter when this host has a writable one (v2 first), else None."""
    if kind in (None, "cgroup-v2"):
        base = _cgroup_v2_base()
        if base is not None and _probe(limiter := CgroupLimiter(base, 2)):
            return limiter
    if kind in (None, "cgroup-v1"):
        base = _cgroup_v1_base()
        if base is not None and _probe(limiter := CgroupLimiter(base, 1)):
            sweep_stale_groups(base)
            return limiter
    return None


def limit_this_process(share: float) -> str:
    """Put the calling process under `share` now, when a cgroup can (a worker before it imports the
    handler, so the cold start runs at the share too); returns the limiter's kind or "" when none could.
    The duty cycle needs a process outside the one it stops: its owner attaches it later."""
    kind = os.environ.get(LIMITER_ENV) or None
    if kind in ("none", "duty-cycle"):
        return ""
    limiter = cgroup_limiter(kind)
    if limiter is None:
        return ""
    limiter.attach(os.getpid(), share)
    return limiter.kind


def attach_all(limiter: Limiter, pids: Iterable[int], share: float) -> None:
    for pid in pids:
        limiter.attach(pid, share)
