"""The worker processes that run the handler, and what happens when one of them dies.

A handler that exits the process (os._exit, a segfault, the OOM killer) breaks a ProcessPoolExecutor for
good; Lambda reports that invocation as Runtime.ExitError and starts a fresh environment, so this pool
does the same: the failed invocation is a function error and the next one gets new workers.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from infra.local.cpu_limit import Limiter, make_limiter
from infra.local.esm.worker import InvokeResult, init_worker, invoke, ready

WARM_HOLD_S = 0.2  # each warm-up task holds its worker this long, so the tasks land on distinct workers


class WorkerPool:
    def __init__(
        self,
        workers: int,
        handler: str,
        env: dict[str, str],
        stdout_path: str | None = None,
        task_root: str | None = None,
        runtime_dir: str | None = None,
        cpu_share: float | None = None,
    ) -> None:
        """`cpu_share`: cores each worker may use (Lambda's share of its memory, infra/local/cpu_limit.py),
        enforced by the host's best limiter from `warm` on; None: unlimited."""
        self._workers = max(1, workers)
        self._handler = handler
        self._env = env
        self._stdout_path = stdout_path
        self._task_root = task_root  # with runtime_dir: the function's code, imported as Lambda would
        self._runtime_dir = runtime_dir
        self._lock = threading.Lock()
        self._cpu_share = cpu_share
        self._limiter: Limiter | None = make_limiter() if cpu_share is not None else None
        self._limited: set[int] = set()
        self._executor = self._new_executor()

    @property
    def worker_pids(self) -> set[int]:
        """The worker processes spawned so far (after `warm`: all of them)."""
        return set(getattr(self._executor, "_processes", None) or {})

    @property
    def limiter_kind(self) -> str:
        return self._limiter.kind if self._limiter is not None else "none"

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn, not fork: the runtime is multi-threaded, and a forked child would inherit held locks.
        return ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
            initargs=(
                self._handler,
                self._env,
                self._stdout_path,
                self._task_root,
                self._runtime_dir,
                self._cpu_share,
            ),
        )

    def warm(self, timeout_s: float = 60.0) -> int:
        """Spawn every worker now (the pool spawns on demand); returns how many distinct workers answered."""
        futures = [self._executor.submit(ready, WARM_HOLD_S) for _ in range(self._workers)]
        pids = {future.result(timeout=timeout_s) for future in futures}
        self._limit(pids | self.worker_pids)
        return len(pids)

    def _limit(self, pids: set[int]) -> None:
        """Put every worker not yet limited under its CPU share (a replaced pool's workers are new)."""
        if self._limiter is None or self._cpu_share is None:
            return
        for pid in sorted(pids - self._limited):
            self._limiter.attach(pid, self._cpu_share)
            self._limited.add(pid)

    def invoke(
        self, event: bytes, function_name: str, function_arn: str, memory_mb: int, timeout_s: float
    ) -> InvokeResult:
        executor = self._executor
        started_ms = time.time() * 1000
        try:
            future = executor.submit(invoke, event, function_name, function_arn, memory_mb, timeout_s)
            return future.result()
        except BrokenProcessPool:
            with self._lock:
                if self._executor is executor:  # the first lane to notice replaces it, once
                    executor.shutdown(wait=False, cancel_futures=True)
                    self._release_all()
                    self._executor = self._new_executor()
                    if self._limiter is not None:
                        self.warm()  # the new workers get their share before they take a batch
            return InvokeResult(
                str(uuid.uuid4()),
                started_ms,
                time.time() * 1000,
                error="Runtime.ExitError: the worker process exited during the invocation",
            )

    def _release_all(self) -> None:
        if self._limiter is not None:
            for pid in self._limited:
                self._limiter.release(pid)
        self._limited.clear()

    def shutdown(self) -> None:
        # Limits off first: a worker the duty cycle holds stopped could never finish, and the wait would hang.
        self._release_all()
        if self._limiter is not None:
            self._limiter.close()
        self._executor.shutdown(wait=True, cancel_futures=True)
