"""One capacity run: (local: stack up) -> load -> drain -> measure -> fit -> plan -> report -> (stack down).

`run_capacity(...)` is what `cdrcap run` and `make demo` call; with `repeat` > 1 it runs the whole loop
that many times into `<run_dir>/repeat-<k>/` and writes the run's summary over them (reports/repeats.py).
Ctrl-C stops the load cleanly and the run still writes what was measured. Each stage lives in its own
module; this one only sequences them.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdrcap.config import Config, Profile
from cdrcap.config import Target as ConfigTarget
from cdrcap.errors import CheckFailed
from cdrcap.fraud_run import write_fraud_json
from cdrcap.progress import LiveProgress
from cdrcap.rundir import create_run_dir, run_metadata
from cdrcap.stages import StackHandle, analyse, drain, load_arguments, local_output_stream, open_target
from cdrcap.step_length import short_step_warnings
from loadgen.runner import run_load
from reports.assemble import write_run_summary
from reports.render import render_run
from reports.repeats import REPEAT_DIR, write_repeated_summary


@dataclass(frozen=True)
class RunRequest:
    target: ConfigTarget
    profile: Profile
    config: Config
    keep_stack: bool = False
    port: int | None = None
    workers: int = 0
    users: int = 4
    progress: bool = True
    repeat: int = 1  # runs of the profile into one run directory (reports/repeats.py)


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    summary: dict[str, Any]
    interrupted: bool
    slo_met: bool


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def run_capacity(request: RunRequest, echo: Callable[[str], None] = print) -> RunOutcome:
    run_dir = create_run_dir(request.config.runs_dir, request.profile.name)
    if request.repeat == 1:
        return _run_once(request, run_dir, run_dir.name, echo)
    return _run_repeats(request, run_dir, echo)


def _run_repeats(request: RunRequest, run_dir: Path, echo: Callable[[str], None]) -> RunOutcome:
    """Each repeat a whole run (a fresh local stack, so repeats are independent) in repeat-<k>/; then
    the run's summary with the repeats block, and its report. Ctrl-C ends the repeats with what finished."""
    outcomes: list[RunOutcome] = []
    for index in range(1, request.repeat + 1):
        repeat_dir = run_dir / REPEAT_DIR.format(index=index)
        (repeat_dir / "data").mkdir(parents=True)
        echo(f"repeat {index} of {request.repeat} -> {repeat_dir}")
        outcomes.append(_run_once(request, repeat_dir, f"{run_dir.name}-{repeat_dir.name}", echo))
        if outcomes[-1].interrupted:
            break
    write_repeated_summary(
        run_dir, [o.run_dir for o in outcomes], [o.interrupted for o in outcomes], representative=1
    )
    render_run(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    spread = summary["repeats"]["spread"]["sustained_accepted_rps"]
    echo(
        f"{len(outcomes)} repeats: sustained {spread['mean']:,.1f} records/s mean, sd {spread['sd']:,.1f}; "
        f"report: {run_dir / 'report.html'}"
    )
    return RunOutcome(
        run_dir,
        summary,
        any(o.interrupted for o in outcomes) or len(outcomes) < request.repeat,
        all(o.slo_met for o in outcomes),
    )


def _run_once(request: RunRequest, run_dir: Path, run_id: str, echo: Callable[[str], None]) -> RunOutcome:
    profile = request.profile
    started_at = _now()
    echo(f"run {run_id}: target {request.target.name}, profile {profile.name} -> {run_dir}")
    for warning in short_step_warnings(profile):
        echo(f"WARNING: {warning}")
    interrupted = False
    load_args = load_arguments(
        profile, run_dir
    )  # a profile the load cannot run fails before the stack starts
    handle: StackHandle = open_target(request.target, profile, run_dir, port=request.port, echo=echo)
    try:
        load_started_s = time.time()
        progress = LiveProgress(run_dir, handle, profile, enabled=request.progress)
        try:
            with progress:
                result = run_load(
                    handle.target,
                    handle.input_stream,
                    echo=echo,
                    users=request.users,
                    workers=request.workers,
                    **load_args,
                )
            # Locust exits 1 when any request failed, which throttled puts do by design; more is a crash.
            if result.returncode not in (0, 1):
                echo(f"WARNING: Locust exited with {result.returncode}; see {run_dir}/locust-master.log")
        except KeyboardInterrupt:
            interrupted = True
            echo("interrupted: load stopped; writing what was measured")
        load_finished_s = time.time()
        if not interrupted:
            drain(handle, echo=echo)
        analysis = analyse(
            handle, profile, run_dir, load_started_s, time.time(), echo=echo, producers=request.users
        )
        if profile.fraud_rate > 0:  # after the drain: the handler has raised what it will raise
            handler_log = Path(handle.info.handler_log_path) if handle.info else None
            write_fraud_json(run_dir, profile.fraud_rate, handler_log, local_output_stream(handle))
        write_run_summary(
            run_dir,
            started_at=started_at,
            finished_at=_now(),
            metadata=run_metadata(request.config, request.target, profile),
            profile={
                **profile.to_dict(),
                "record_bytes": analysis.record_bytes,
                "design_rate_rps": analysis.design_rate_rps,
                "load_seconds": round(load_finished_s - load_started_s, 1),
                "interrupted": interrupted,
                "stack": handle.describe(),
            },
            service_time_model=analysis.service_time_model,
            recommendation=analysis.recommendation,
            predictions=analysis.predictions,
            design_rate_rps=analysis.design_rate_rps,
            put_latency_ms=analysis.put_latency_ms,
            measured_via=handle.measured_via,
            plan_inputs=analysis.plan_inputs,
            plan_details=analysis.plan_details,
            run_cost=analysis.run_cost,
            run_id=run_id,
        )
        render_run(run_dir)
    finally:
        if request.keep_stack:
            echo(f"the stack is still up: `cdrcap status --state-dir {handle.state_dir}` / `cdrcap down ...`")
        else:
            handle.close(echo)
    summary = json.loads((run_dir / "summary.json").read_text())
    echo(f"report: {run_dir / 'report.html'} (and report.md, summary.json)")
    return RunOutcome(run_dir, summary, interrupted, analysis.slo_met)


def exit_code(outcome: RunOutcome) -> int:
    """0 when the run completed; a run cut short by Ctrl-C or a plan with no feasible configuration is 1."""
    if outcome.interrupted:
        raise CheckFailed(f"the run was interrupted; partial results are in {outcome.run_dir}")
    if not outcome.slo_met:
        raise CheckFailed(
            "no configuration within quotas meets the SLO at "
            f"{outcome.summary['profile']['design_rate_rps']} records/s; see {outcome.run_dir / 'report.md'}"
        )
    return 0
