"""Validation of the capacity model against the local stack: predicted vs measured p99 iterator age and e2e.

Each configuration is one real `cdrcap run` (local stack up with that configuration, step load through
Locust, drain, fit the service time from the run's own trace, predict every step with
capacity.validate.predict_steps, summary.json with model_error, stack down), so what is validated is the
product's own path. The configurations span shards x PF x batch x window x rate, with steps near the
shard write limit AND near the consumer's limit (handler duration x batches per second of one lane).

Every prediction is a central value and an 80% interval over the simulator's replications, widened by the
conformal margin of the recorded validation runs (capacity/intervals.py, capacity/interval_calibration.py).
The run is scored OUT OF SAMPLE: its intervals are re-widened by the margin of every recorded run but itself
(a fresh run is in none). The coverage table says how often the measurement fell inside, how wide the
intervals are and how far the central values are, per metric, over steps with enough invocations for a
p99 (capacity/measurability.py), and with the replications' spread alone (no margin).

`python -m tests.benchmarks.bench_model_validation [--only NAME ...] [--no-doc] [--from-json]`: runs them,
prints the tables, and (with every configuration run) writes them into docs/capacity.md between the
validation markers; `--from-json` re-renders the tables from the last runs/validation/validation.json,
and `--from-json --repredict` predicts those saved runs again with the current model (same measurements);
`--calibrate` records the run's points (replication intervals vs measurements) in
capacity/interval_calibration.json, so that later predictions' margins count them.
Bounded: each configuration runs its fixed steps plus the run's drain deadline; the whole set ~10 min.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from capacity import interval_calibration
from capacity.interval_calibration import CalibrationPoint, Margin, margin_without, widen
from capacity.intervals import INTERVAL_LEVEL, Interval, coverage
from capacity.measurability import MIN_INVOCATIONS_FOR_P99, step_plans
from cdrcap.config import Config, Profile, Target
from cdrcap.orchestrate import RunRequest, run_capacity
from cdrcap.predict_run import repredict
from reports.measured import model_error

LONG = True  # seven real runs, ~8 minutes: `make bench-long`, not `make bench`

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "capacity.md"
RUNS_DIR = ROOT / "runs" / "validation"
BEGIN, END = "<!-- validation-table:begin -->", "<!-- validation-table:end -->"
TARGET_MEDIAN_APE, TARGET_MAX_APE = 0.15, 0.30
TARGET_COVERAGE = 0.75  # of measurements inside their 80% interval
METRICS = (("iterator_age", "iterator age p99"), ("e2e", "e2e p99"))


# Step lengths: what capacity/measurability.py says a p99 needs (100 invocations), with the handler's
# S(n) as the 2026-12-03 06:56 run of each case measured it (`service_ms`), at least MIN_STEP_S and at most
# MAX_STEP_S so that the seven runs fit in ~30 min; a step still short of 100 invocations is marked in the
# table and left out of the "steps with >= 100 invocations" row.
MIN_STEP_S, MAX_STEP_S = 40.0, 120.0


@dataclass(frozen=True)
class Case:
    name: str
    why: str
    shards: int
    pf: int
    batch: int
    window_s: float
    scale: float
    steps: tuple[float, ...]
    service_ms: tuple[float, float]  # S(n) = a + b*n measured for this case, for its step length
    step_s: float = 0.0  # 0: the length a p99 needs (step_length_s)


def step_length_s(case: Case) -> float:
    """The longest step length the case's steps need for a p99, rounded up to 5 s, in [MIN, MAX]."""
    if case.step_s:
        return case.step_s
    plans = step_plans(case.steps, 1.0, case.shards, case.pf, case.batch, case.window_s, case.service_ms)
    needed = max(plan.min_duration_s for plan in plans)
    return min(max(5.0 * math.ceil(needed / 5.0), MIN_STEP_S), MAX_STEP_S)


# A lane of the real handler against MiniStack costs ~2.5-3.5 ms per record on this machine, so one lane
# saturates around 300-400 records/s; scale 0.1 makes a shard's write limit 100 records/s.
CASES = (
    Case(
        "light-window",
        "light load, 1 s window: window + poll cadence",
        1,
        1,
        500,
        1.0,
        0.1,
        (45, 90),
        (82, 9.4),
    ),
    Case(
        "write-limit",
        "step 2 offers 2x the 0.1 shard's write limit",
        1,
        1,
        500,
        0.0,
        0.1,
        (60, 120),
        (28, 8.3),
    ),
    Case("two-shards", "2 shards x 0.1, batch 100, window 2 s", 2, 1, 100, 2.0, 0.1, (80, 160), (0, 5.5)),
    Case(
        "consumer-b100-w0",
        "batch 100, window 0: invocation overhead binds",
        1,
        1,
        100,
        0.0,
        1.0,
        (90, 180),
        (28, 4.4),
    ),
    Case(
        "consumer-pf1",
        "batch 500, window 1 s, one lane near its limit",
        1,
        1,
        500,
        1.0,
        1.0,
        (110, 220),
        (153, 3.5),
    ),
    Case("consumer-pf2", "same load, PF 2: two lanes share it", 1, 2, 500, 1.0, 1.0, (110, 220), (0, 9.4)),
    Case(
        "consumer-b500-w0",
        "batch 500, window 0 near the lane's limit",
        1,
        1,
        500,
        0.0,
        1.0,
        (125, 250),
        (105, 4.9),
    ),
)


def profile_of(case: Case) -> Profile:
    return Profile(
        name=f"val-{case.name}",
        steps=case.steps,
        shape="step",
        step_duration_s=step_length_s(case),
        shards=case.shards,
        batch_size=case.batch,
        batching_window_s=case.window_s,
        parallelization_factor=case.pf,
        scale=case.scale,
        seed=7,
    )


def run_case(case: Case) -> list[dict[str, Any]]:
    """One `cdrcap run` of the case; the rows of its model_error with the configuration attached."""
    config = Config(source=None, runs_dir=RUNS_DIR)
    request = RunRequest(
        target=Target("local", is_local=True), profile=profile_of(case), config=config, progress=False
    )
    outcome = run_capacity(request, echo=lambda line: print(f"  [{case.name}] {line}", flush=True))
    load_1min = os.getloadavg()[0]  # the shared host's load as the run ends: how busy its neighbours were
    return [{**row, "load_1min": load_1min} for row in case_rows(case, outcome.summary, outcome.run_dir)]


def case_rows(case: Case, summary: dict[str, Any], run_dir: Path) -> list[dict[str, Any]]:
    measured = {s["step"]: s for s in summary["steps"]}
    rows = []
    for entry in summary["model_error"]["per_step"]:
        step = measured[entry["step"]]
        rows.append(
            {
                "case": case.name,
                "step_s": step_length_s(case),
                "shards": case.shards,
                "pf": case.pf,
                "batch": case.batch,
                "window_s": case.window_s,
                "scale": case.scale,
                "step": entry["step"],
                "offered_rps": step["offered_rps"],
                "accepted_rps": step["accepted_rps"],
                **{
                    k: entry[k]
                    for k in entry
                    if k.startswith(("predicted", "measured", "ape", "inside", "invocations", "interval"))
                },
                "service_ms": (
                    summary["service_time_model"]["a_ms"],
                    summary["service_time_model"]["b_ms_per_record"],
                ),
                "run_dir": str(run_dir.resolve().relative_to(ROOT)),
            }
        )
    return rows


def repredict_rows(saved: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The saved runs' measurements against the CURRENT model's predictions (cdrcap.predict_run)."""
    cases = {c.name: c for c in CASES}
    rows: list[dict[str, Any]] = []
    for name, run_dir in dict.fromkeys((r["case"], r["run_dir"]) for r in saved):
        summary, predictions = repredict(ROOT / run_dir)
        summary["model_error"] = model_error(predictions, summary["steps"])
        # What the saved rows knew of their run and the case does not: the host's load, the step length
        kept = {k: v for r in saved if r["run_dir"] == run_dir for k, v in r.items() if k in RUN_FACTS}
        rows += [{**row, **kept} for row in case_rows(cases[name], summary, ROOT / run_dir)]
    return rows


RUN_FACTS = ("load_1min", "step_s")


def out_of_sample(rows: list[dict[str, Any]], run_id: str) -> tuple[list[dict[str, Any]], Margin]:
    """The rows with each interval's replication spread kept (`spread_<metric>_lo_ms` / `_hi_ms`) and the
    interval re-widened by the margin of every recorded run but `run_id` (so the run scores out of sample)."""
    margin = margin_without(run_id)
    scored = []
    for row in rows:
        row = dict(row)
        used = float(row.get("interval_log_margin") or 0.0)
        for metric, _ in METRICS:
            low, high = row.get(f"predicted_{metric}_p99_lo_ms"), row.get(f"predicted_{metric}_p99_hi_ms")
            if low is None or high is None:
                continue
            # a row scored before keeps its spread; a fresh one takes it off the margin it was predicted with
            spread_low, spread_high = Interval(0.0, low, high, 0, used).spread
            spread_low = row.setdefault(f"spread_{metric}_lo_ms", spread_low)
            spread_high = row.setdefault(f"spread_{metric}_hi_ms", spread_high)
            low, high = widen(spread_low, spread_high, margin)
            row[f"predicted_{metric}_p99_lo_ms"], row[f"predicted_{metric}_p99_hi_ms"] = low, high
            row[f"inside_interval_{metric}"] = low <= row[f"measured_{metric}_p99_ms"] <= high
        row["interval_log_margin"] = margin.log_margin
        scored.append(row)
    return scored, margin


def calibration_points(rows: list[dict[str, Any]], run_id: str) -> list[CalibrationPoint]:
    """The run's measurements against their replications' intervals (no margin): what a margin is made of."""
    return [
        CalibrationPoint(
            run=run_id,
            configuration=r["case"],
            step=int(r["step"]),
            metric=metric,
            central_ms=float(r[f"predicted_{metric}_p99_ms"]),
            low_ms=float(r[f"spread_{metric}_lo_ms"]),
            high_ms=float(r[f"spread_{metric}_hi_ms"]),
            measured_ms=float(r[f"measured_{metric}_p99_ms"]),
        )
        for r in rows
        for metric, _ in METRICS
        if f"spread_{metric}_lo_ms" in r and math.isfinite(float(r[f"measured_{metric}_p99_ms"]))
    ]


def _with_interval(r: dict[str, Any], metric: str) -> str:
    central = r[f"predicted_{metric}_p99_ms"]
    low, high = r.get(f"predicted_{metric}_p99_lo_ms"), r.get(f"predicted_{metric}_p99_hi_ms")
    if low is None or high is None:
        return f"{central:,.0f}"
    return f"{central:,.0f} [{low:,.0f}-{high:,.0f}]"


def _measured(r: dict[str, Any], metric: str) -> str:
    inside = r.get(f"inside_interval_{metric}")
    mark = "" if inside is None else (" in" if inside else " **out**")
    return f"{r[f'measured_{metric}_p99_ms']:,.0f}{mark}"


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| configuration | shards | PF | batch | window s | scale | step | accepted rec/s | invocations "
        "| S(n) ms | age p99 pred. ms [80%] | age p99 meas. ms | APE age | e2e p99 pred. ms [80%] "
        "| e2e p99 meas. ms | APE e2e |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        a_ms, b_ms = r["service_ms"]
        invocations = r.get("invocations")
        count = "" if invocations is None else f"{invocations}"
        if invocations is not None and invocations < MIN_INVOCATIONS_FOR_P99:
            count += " (<100)"
        lines.append(
            f"| {r['case']} | {r['shards']} | {r['pf']} | {r['batch']} | {r['window_s']:g} | {r['scale']:g} "
            f"| {r['step']} | {r['accepted_rps']:.0f} | {count} | {a_ms:.0f} + {b_ms:.2f} n "
            f"| {_with_interval(r, 'iterator_age')} | {_measured(r, 'iterator_age')} "
            f"| {r['ape_iterator_age']:.0%} | {_with_interval(r, 'e2e')} "
            f"| {_measured(r, 'e2e')} | {r['ape_e2e']:.0%} |"
        )
    return "\n".join(lines)


def _pairs(
    rows: list[dict[str, Any]], metric: str, prefix: str = "predicted"
) -> list[tuple[Interval, float]]:
    """(interval, measurement) per row; prefix "spread": the replications' own interval, no margin."""
    stem = f"{prefix}_{metric}_p99" if prefix == "predicted" else f"{prefix}_{metric}"
    return [
        (
            Interval(r[f"predicted_{metric}_p99_ms"], r[f"{stem}_lo_ms"], r[f"{stem}_hi_ms"], 0),
            r[f"measured_{metric}_p99_ms"],
        )
        for r in rows
        if r.get(f"{stem}_lo_ms") is not None
    ]


def coverage_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Coverage per metric, both metrics, and both over the steps with enough invocations for a p99."""
    measurable = [r for r in rows if r.get("invocations", 0) >= MIN_INVOCATIONS_FOR_P99]
    groups = [
        *((label, _pairs(rows, metric)) for metric, label in METRICS),
        ("both", _pairs(rows, "iterator_age") + _pairs(rows, "e2e")),
        (
            f"both, steps with >= {MIN_INVOCATIONS_FOR_P99} invocations",
            _pairs(measurable, "iterator_age") + _pairs(measurable, "e2e"),
        ),
        (
            "both, replications' spread alone (no margin)",
            _pairs(rows, "iterator_age", "spread") + _pairs(rows, "e2e", "spread"),
        ),
    ]
    return [{"group": label, **coverage(pairs).to_dict()} for label, pairs in groups]


def coverage_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"| points | n | inside the {INTERVAL_LEVEL:.0%} interval | coverage | median interval width / value "
        "| median APE of the central value |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for c in coverage_rows(rows):
        if not c["points"]:
            lines.append(f"| {c['group']} | 0 | | | | |")
            continue
        lines.append(
            f"| {c['group']} | {c['points']} | {c['inside']} | {c['coverage']:.0%} "
            f"| {c['median_relative_width']:.0%} | {c['median_ape']:.0%} |"
        )
    return "\n".join(lines)


def aggregate(rows: list[dict[str, Any]]) -> dict[str, float]:
    ages = [r["ape_iterator_age"] for r in rows]
    e2es = [r["ape_e2e"] for r in rows]
    both = ages + e2es
    overall = coverage(_pairs(rows, "iterator_age") + _pairs(rows, "e2e"))
    return {
        "median_ape": statistics.median(both),
        "max_ape": max(both),
        "median_ape_iterator_age": statistics.median(ages),
        "median_ape_e2e": statistics.median(e2es),
        "points": float(len(both)),
        "coverage": overall.share_inside,
        "median_relative_width": overall.median_relative_width,
        "median_ape_central": overall.median_ape,
    }


def step_lengths(rows: list[dict[str, Any]]) -> str:
    """The step lengths the rows' configurations ran with (saved rows without them: the case's rule)."""
    cases = {c.name: c for c in CASES}
    lengths = sorted({float(r.get("step_s") or step_length_s(cases[r["case"]])) for r in rows})
    return ", ".join(f"{length:g}" for length in lengths) + " s"


def load_note(rows: list[dict[str, Any]]) -> str:
    """The host's 1-minute load average as each configuration's run ended (2 cores: above 2 is queueing)."""
    loads = [r["load_1min"] for r in {r["case"]: r for r in rows}.values() if "load_1min" in r]
    if not loads:
        return "not recorded (runs saved before the bench recorded it)"
    return f"1-min load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores as the runs ended"


def write_doc(rows: list[dict[str, Any]], totals: dict[str, float], when: str, margin: Margin) -> None:
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC} lacks the markers {BEGIN} / {END}")
    body = (
        f"{BEGIN}\n"
        f"Measured {when} by `python -m tests.benchmarks.bench_model_validation` ({len(rows)} steps of "
        f"{len({r['case'] for r in rows})} configurations, 2 metrics each): median APE "
        f"{totals['median_ape']:.0%} (iterator age {totals['median_ape_iterator_age']:.0%}, e2e "
        f"{totals['median_ape_e2e']:.0%}), worst {totals['max_ape']:.0%}; "
        f"{totals['coverage']:.0%} of the measurements inside their {INTERVAL_LEVEL:.0%} interval "
        f"(target >= {TARGET_COVERAGE:.0%}), median interval width {totals['median_relative_width']:.0%} "
        f"of the central value. Intervals: the replications' 10th-90th percentiles {margin.describe()}, "
        f"the run itself not among them (out of sample). Steps of {step_lengths(rows)}; host: "
        f"{load_note(rows)}.\n\n"
        f"{coverage_table(rows)}\n\n"
        f"{table(rows)}\n{END}"
    )
    head, rest = text.split(BEGIN, 1)
    DOC.write_text(head + body + rest.split(END, 1)[1])


def run(
    only: tuple[str, ...] = (),
    write: bool = True,
    from_json: bool = False,
    again: bool = False,
    step_s: float | None = None,
    calibrate: bool = False,
) -> dict[str, Any]:
    """`step_s`: run the cases with steps of this length instead of theirs (more invocations per p99);
    such runs, and runs of some cases only, are saved beside validation.json, not over it."""
    cases = [replace(c, step_s=step_s or c.step_s) for c in CASES if not only or c.name in only]
    for case in cases:
        print(f"{case.name}: steps of {step_length_s(case):g} s", flush=True)
    started = time.monotonic()
    saved = RUNS_DIR / "validation.json"
    if step_s:
        saved = RUNS_DIR / f"validation-{step_s:g}s.json"
    elif only and not from_json:
        saved = RUNS_DIR / "validation-partial.json"
    if from_json:
        record = json.loads(saved.read_text())
        rows = [r for r in record["rows"] if not only or r["case"] in only]
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(saved.stat().st_mtime))
        run_id = record.get("run") or time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(saved.stat().st_mtime))
        if again:
            rows = repredict_rows(rows)
            when += ", re-predicted " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    else:
        run_id = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime())
        rows = []
        for case in cases:
            print(f"== {case.name}: {case.why}", flush=True)
            rows += run_case(case)
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows, margin = out_of_sample(rows, run_id)
    totals = aggregate(rows)
    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps({"run": run_id, "rows": rows, "totals": totals}, indent=1))
    if write and not only and not step_s:
        write_doc(rows, totals, when, margin)
    if calibrate:
        provenance = (
            f"bench_model_validation, {len({r['case'] for r in rows})} configurations, {len(rows)} steps, "
            f"measured {when} on {os.cpu_count()} cores ({load_note(rows)})"
        )
        count = interval_calibration.add_run(run_id, provenance, calibration_points(rows, run_id))
        print(
            f"recorded {count} calibration points of run {run_id} in {interval_calibration.CALIBRATION_FILE}"
        )
    return {
        "title": "Capacity model vs the local stack (p99 iterator age and e2e, with 80% intervals)",
        "metrics": [
            {
                "name": "median APE (both metrics, all steps)",
                "value": totals["median_ape"],
                "unit": "ratio",
                "target": f"<= {TARGET_MEDIAN_APE}",
                "met": totals["median_ape"] <= TARGET_MEDIAN_APE,
            },
            {
                "name": "worst APE",
                "value": totals["max_ape"],
                "unit": "ratio",
                "target": f"<= {TARGET_MAX_APE}",
                "met": totals["max_ape"] <= TARGET_MAX_APE,
            },
            {
                "name": f"measurements inside their {INTERVAL_LEVEL:.0%} interval",
                "value": totals["coverage"],
                "unit": "ratio",
                "target": f">= {TARGET_COVERAGE}",
                "met": totals["coverage"] >= TARGET_COVERAGE,
            },
            {
                "name": "median interval width / value",
                "value": totals["median_relative_width"],
                "unit": "ratio",
            },
            {
                "name": "median APE iterator age p99",
                "value": totals["median_ape_iterator_age"],
                "unit": "ratio",
            },
            {"name": "median APE e2e p99", "value": totals["median_ape_e2e"], "unit": "ratio"},
            {"name": "configurations", "value": len({r["case"] for r in rows}), "unit": ""},
            {"name": "wall time", "value": round(time.monotonic() - started), "unit": "s"},
        ],
        "machine load": load_note(rows),
        "intervals": f"the replications' 10th-90th percentiles {margin.describe()}, this run not among them",
        "notes": coverage_table(rows) + "\n\n" + table(rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", default=[], help="configuration names")
    parser.add_argument("--no-doc", action="store_true", help="leave docs/capacity.md alone")
    parser.add_argument(
        "--from-json", action="store_true", help="re-render from the last runs/validation/validation.json"
    )
    parser.add_argument(
        "--repredict",
        action="store_true",
        help="with --from-json: predict the saved runs again with the current model",
    )
    parser.add_argument("--step-s", type=float, help="every step this long (saved apart, not in the doc)")
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="record the run's points in capacity/interval_calibration.json (later margins count them)",
    )
    args = parser.parse_args()
    result = run(
        tuple(args.only),
        write=not args.no_doc,
        from_json=args.from_json,
        again=args.repredict,
        step_s=args.step_s,
        calibrate=args.calibrate,
    )
    print(json.dumps(result["metrics"], indent=1))
    print(result["notes"])


if __name__ == "__main__":
    main()
