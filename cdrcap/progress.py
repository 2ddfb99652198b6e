"""The live display of a capacity run: step, offered/accepted/throttled records/s, iterator age, time left.

It reads what the run already writes (data/load_live.json from the load generator, the invocation trace
from the local runtime), so it observes without touching the load. On a terminal it is a rich live table;
elsewhere (CI logs) a plain line every few seconds.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from cdrcap.config import Profile
from loadgen.measure import LIVE_FILE

if TYPE_CHECKING:
    from cdrcap.stages import StackHandle

PLAIN_INTERVAL_S = 10.0
LIVE_INTERVAL_S = 1.0
RECENT_WINDOW_S = 15.0


class LiveProgress:
    def __init__(self, run_dir: Path, handle: StackHandle, profile: Profile, *, enabled: bool = True) -> None:
        self.live_path = run_dir / "data" / LIVE_FILE
        self.handle = handle
        self.profile = profile
        self.enabled = enabled
        self.started = time.monotonic()
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def snapshot(self) -> dict[str, Any]:
        live: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):  # not written yet, or mid-replace
            live = json.loads(self.live_path.read_text())
        age_ms: float | None = None
        processed_rps: float | None = None
        if self.handle.trace_path is not None:
            try:
                # Batches can take seconds each: look back far enough to always see a few.
                recent = self.handle.recent_invocations(time.time() - RECENT_WINDOW_S)
            except Exception:  # a half-written trace line must not stop the display
                recent = None
            if recent is not None and not recent.empty:
                age_ms = float(recent.sort_values("start_epoch_ms")["iterator_age_ms"].iloc[-1])
                processed_rps = float(recent["batch_records"].sum()) / RECENT_WINDOW_S
        elapsed = time.monotonic() - self.started
        return {
            "elapsed_s": elapsed,
            "left_s": max(self.profile.duration_s - elapsed, 0.0),
            "step": live.get("step"),
            "target_rps": live.get("target_rps"),
            "offered_rps": live.get("offered_rps"),
            "accepted_rps": live.get("accepted_rps"),
            "throttled_rps": live.get("throttled_rps"),
            "iterator_age_ms": age_ms,
            "processed_rps": processed_rps,
        }

    def render(self) -> Table:
        s = self.snapshot()
        table = Table(title=f"cdrcap run: profile {self.profile.name}", show_header=True)
        for column in (
            "step",
            "target",
            "offered",
            "accepted",
            "throttled",
            "processed",
            "iterator age",
            "left",
        ):
            table.add_column(column, justify="right")
        step = "-" if s["step"] is None else f"{s['step'] + 1}/{len(self.profile.steps)}"
        table.add_row(
            step,
            _rate(s["target_rps"]),
            _rate(s["offered_rps"]),
            _rate(s["accepted_rps"]),
            _rate(s["throttled_rps"]),
            _rate(s["processed_rps"]),
            "-" if s["iterator_age_ms"] is None else f"{s['iterator_age_ms']:,.0f} ms",
            f"{s['left_s']:.0f} s",
        )
        return table

    def _plain_loop(self) -> None:
        while not self.stop_event.wait(PLAIN_INTERVAL_S):
            s = self.snapshot()
            age = "-" if s["iterator_age_ms"] is None else f"{s['iterator_age_ms']:.0f}"
            print(
                f"[{s['elapsed_s']:5.0f} s] step {s['step']} target {_rate(s['target_rps'])} "
                f"offered {_rate(s['offered_rps'])} accepted {_rate(s['accepted_rps'])} "
                f"throttled {_rate(s['throttled_rps'])} processed {_rate(s['processed_rps'])} "
                f"iterator age {age} ms, {s['left_s']:.0f} s left",
                flush=True,
            )

    def _live_loop(self) -> None:
        with Live(self.render(), console=Console(), refresh_per_second=2, transient=False) as live:
            while not self.stop_event.wait(LIVE_INTERVAL_S):
                live.update(self.render())

    def __enter__(self) -> LiveProgress:
        if self.enabled:
            target = self._live_loop if sys.stdout.isatty() else self._plain_loop
            self.thread = threading.Thread(target=target, name="cdrcap-progress", daemon=True)
            self.thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=5)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}/s"
