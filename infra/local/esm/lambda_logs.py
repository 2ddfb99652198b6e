"""The function's CloudWatch Logs, as Lambda writes them: a log stream per execution environment in
`/aws/lambda/<function>`, each invocation's own stdout/stderr lines between START and END, then REPORT.

Worker side (`capture_output`, `finish_invocation`): a worker process is one execution environment; its
output is tee'd (still to the handler log file) and each invocation's lines come back with the result,
with the worker's peak RSS (Max Memory Used) and, on the environment's first invocation, its Init Duration.
Runtime side (`invocation_events`): the lines of one invocation in Lambda's exact format.
"""

from __future__ import annotations

import math
import resource
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import IO, Any

# Lambda's log stream names: `YYYY/MM/DD/[$LATEST]<32 hex>` (one per execution environment).
_log_stream = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}"
_init_duration_ms: float | None = None  # reported once, on the environment's first invocation
_lines: list[tuple[int, str]] = []
_lines_lock = threading.Lock()


@dataclass(frozen=True)
class InvocationLog:
    """What one invocation wrote, and the environment's figures for its REPORT line."""

    log_stream: str
    lines: tuple[tuple[int, str], ...]  # (epoch ms, line) in write order
    max_memory_used_mb: int
    init_duration_ms: float | None


class _Tee:
    """A text stream that writes through to `target` and keeps each complete line for the invocation."""

    def __init__(self, target: IO[str] | Any) -> None:
        self._target = target
        self._partial = ""

    def write(self, text: str) -> int:
        written = self._target.write(text)
        now_ms = int(time.time() * 1000)
        pieces = (self._partial + text).split("\n")
        self._partial = pieces.pop()
        if pieces:
            with _lines_lock:
                _lines.extend((now_ms, line) for line in pieces)
        return int(written) if written is not None else len(text)

    def flush(self) -> None:
        self._target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def log_stream_name() -> str:
    return _log_stream


def capture_output(init_started_s: float) -> None:
    """Called at the end of the worker's init: tee stdout and stderr, remember the Init Duration."""
    global _init_duration_ms
    _init_duration_ms = (time.time() - init_started_s) * 1000.0
    if not isinstance(sys.stdout, _Tee):
        sys.stdout = _Tee(sys.stdout)
    if not isinstance(sys.stderr, _Tee):
        sys.stderr = _Tee(sys.stderr)
    with _lines_lock:
        _lines.clear()  # what the init printed belongs to no invocation


def finish_invocation(error: str | None) -> InvocationLog:
    """This invocation's lines (plus Lambda's `[ERROR]` line for an unhandled error) and figures."""
    global _init_duration_ms
    with _lines_lock:
        lines = list(_lines)
        _lines.clear()
    if error is not None:
        lines.append((int(time.time() * 1000), f"[ERROR] {error}"))
    # ru_maxrss is in KiB on Linux: the process's peak resident set, as Lambda's Max Memory Used.
    peak_mb = math.ceil(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    init_ms, _init_duration_ms = _init_duration_ms, None
    return InvocationLog(_log_stream, tuple(lines), peak_mb, init_ms)


def report_line(
    request_id: str, duration_ms: float, memory_mb: int, log: InvocationLog, timed_out: bool = False
) -> str:
    """Lambda's REPORT line. Billed Duration is the duration rounded up to the millisecond, plus the Init
    Duration on a cold start (Lambda bills the INIT phase of managed runtimes since 2025-08-01)."""
    billed_ms = math.ceil(duration_ms + (log.init_duration_ms or 0.0))
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed_ms} ms\t"
        f"Memory Size: {memory_mb} MB\tMax Memory Used: {log.max_memory_used_mb} MB"
    )
    if log.init_duration_ms is not None:
        line += f"\tInit Duration: {log.init_duration_ms:.2f} ms"
    if timed_out:
        line += "\tStatus: timeout"
    return line


def invocation_events(
    request_id: str,
    start_epoch_ms: float,
    end_epoch_ms: float,
    memory_mb: int,
    log: InvocationLog,
    timed_out: bool = False,
) -> list[tuple[int, str]]:
    """START, the invocation's own lines, END and REPORT, timestamped as Lambda stamps them."""
    start_ms, end_ms = int(start_epoch_ms), int(end_epoch_ms)
    events = [(start_ms, f"START RequestId: {request_id} Version: $LATEST")]
    events += [(max(start_ms, min(ts, end_ms)), line) for ts, line in log.lines]
    if timed_out:
        events.append((end_ms, f"{request_id} Task timed out after {(end_ms - start_ms) / 1000:.2f} seconds"))
    events.append((end_ms, f"END RequestId: {request_id}"))
    events.append((end_ms, report_line(request_id, end_epoch_ms - start_epoch_ms, memory_mb, log, timed_out)))
    return events
