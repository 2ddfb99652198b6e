"""`cdrcap plan`: size shards, PF, batch, window, memory and consumer mode for an SLO, from flags or a run."""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from capacity import quotas, resource_use, scaling_policies, skew
from capacity.explain import CONFIGURATION_KEYS, cloudformation_parameters, scaler_parameters
from capacity.fit import ServiceTimeModel
from capacity.planner import Plan, plan
from capacity.resource_use import ResourceUse
from capacity.search import SearchSpace, Slo, Workload
from cdrcap import traffic_spec
from cdrcap.errors import EXIT_CHECK_FAILED, EXIT_OK, CdrcapError
from cdrcap.scaling_render import render_scaling

DEFAULT_RECORD_BYTES = 400.0


def register(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("load (flags override what --from reads)")
    source.add_argument(
        "--from", dest="from_run", type=Path, metavar="RUN_DIR", help="a saved run, runs/<id>"
    )
    source.add_argument("--rate", type=float, help="peak records/s to plan for")
    source.add_argument(
        "--traffic",
        metavar="FILE|SHAPE:PEAK",
        help="a day of traffic (CSV timestamp,records; a CloudWatch IncomingRecords export; a run's "
        "load_seconds.csv; or diurnal:PEAK[,burst=8x10@18:00]): plans for its peak minute and compares "
        "scaling policies over it (docs/capacity.md, Scaling policies)",
    )
    source.add_argument(
        "--record-bytes", type=float, help=f"mean record size (default {DEFAULT_RECORD_BYTES:g})"
    )
    source.add_argument(
        "--key-skew", type=float, default=None, help="Zipf exponent of partition keys (0=uniform)"
    )
    source.add_argument("--distinct-keys", type=int, default=1_000_000, help="partition keys for --key-skew")
    source.add_argument(
        "--hot-key-share", type=float, help="share of traffic on the single hottest key (0..1)"
    )
    source.add_argument(
        "--cdrs-per-record",
        type=float,
        help="CDRs per Kinesis record of an aggregating (KPL) producer (default: the run's measured "
        "cdrs_per_kinesis_record with --from, else 1 = no aggregation)",
    )
    source.add_argument("--consumers", type=int, default=1, help="consumers of the stream, this one included")
    source.add_argument("--current-shards", type=int, help="shard count today, for the resharding path")
    source.add_argument("--service-time", help="handler time 'a,b[,c]': a ms + b ms/record (+ c ms/KiB)")
    source.add_argument("--measured-memory-mb", type=int, help="memory the service time was measured at")
    source.add_argument(
        "--resource-use",
        type=Path,
        metavar="FILE",
        help="TOML/JSON of what a CDR asks of the sinks (keys of details.resource_use_per_cdr); "
        "default: the run's measurement with --from, else the benchmark's defaults",
    )
    slo = parser.add_argument_group("SLO and search")
    slo.add_argument("--slo-e2e-p99-ms", type=float, help=f"default: the run's SLO, else {Slo.e2e_p99_ms:g}")
    slo.add_argument(
        "--slo-iterator-age-max-ms",
        type=float,
        help=f"default: the run's SLO, else {Slo.iterator_age_max_ms:g}",
    )
    slo.add_argument(
        "--headroom",
        type=float,
        help=f"must stay stable at this x rate (default: the run's, else {Slo.headroom_factor:g})",
    )
    slo.add_argument("--consumer-mode", choices=("shared", "efo", "any"), default="any")
    slo.add_argument("--concurrency-limit", type=int, default=quotas.LAMBDA_DEFAULT_ACCOUNT_CONCURRENCY)
    slo.add_argument("--region-prices", type=Path, metavar="FILE", help="TOML/JSON prices for another region")
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the plan as JSON")
    out.add_argument(
        "--emit-params",
        type=Path,
        metavar="FILE",
        help="write CloudFormation parameters (JSON); with --traffic also the scaler's (ScalerPolicyJson)",
    )
    out.add_argument(
        "--plot", type=Path, metavar="PNG", help="with --traffic: draw the day under every scaling policy"
    )
    parser.set_defaults(func=run)


def parse_service_time(text: str) -> tuple[float, float, float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError as error:
        raise CdrcapError(f"--service-time {text!r}: expected numbers 'a,b[,c]', e.g. '40,0.3'") from error
    if len(values) not in (2, 3):
        raise CdrcapError(f"--service-time {text!r}: expected 2 or 3 numbers 'a,b[,c]', e.g. '40,0.3'")
    negative = [value for value in values if value < 0 or not math.isfinite(value)]
    if negative:
        raise CdrcapError(
            f"--service-time {text!r}: {negative[0]:g} is not a duration; a (ms per invocation), b (ms per "
            "record) and c (ms per KiB) must be finite and >= 0"
        )
    return values[0], values[1], values[2] if len(values) == 3 else 0.0


def _load_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "summary.json"
    try:
        summary: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise CdrcapError(f"--from {run_dir}: no summary.json there; pass a runs/<id> directory") from error
    except json.JSONDecodeError as error:
        raise CdrcapError(f"--from {run_dir}: summary.json is not valid JSON ({error})") from error
    return summary


def _peak_rate(summary: dict[str, Any]) -> float | None:
    steps = [step.get("accepted_rps") for step in summary.get("steps") or [] if step.get("accepted_rps")]
    if steps:
        return float(max(steps))
    throughput = summary.get("throughput") or {}
    rate = throughput.get("sustained_accepted_rps") or throughput.get("accepted_rps")
    return float(rate) if rate else None


def build_inputs(
    args: argparse.Namespace,
) -> tuple[ServiceTimeModel, Workload, Slo, SearchSpace, quotas.Prices]:
    """Everything `plan` needs from the flags and the optional saved run; raises CdrcapError on bad input."""
    summary = _load_run(args.from_run) if args.from_run else {}
    service: ServiceTimeModel | None = None
    if args.service_time:
        a_ms, b_ms, c_ms = parse_service_time(args.service_time)
        service = ServiceTimeModel(a_ms, b_ms, c_ms)
    elif summary.get("service_time_model"):
        service = ServiceTimeModel.from_dict(summary["service_time_model"])
    if service is None:
        raise CdrcapError(
            "no service time: pass --service-time 'a,b[,c]' or --from a run with service_time_model"
        )
    if args.measured_memory_mb:
        service = replace(service, memory_mb=args.measured_memory_mb)
    inputs = summary.get("plan_inputs") or {}  # what the run's own plan was made from
    day_peak = args.traffic_day.peak_rps if getattr(args, "traffic_day", None) else None
    rate = args.rate if args.rate is not None else day_peak or inputs.get("rate_rps") or _peak_rate(summary)
    if rate is None or rate <= 0:
        raise CdrcapError(
            f"rate {rate}: pass --rate N (records/s > 0) or --from a run with measured throughput"
        )
    record_bytes = (
        args.record_bytes
        or inputs.get("record_bytes")
        or (summary.get("profile") or {}).get("record_bytes")
        or DEFAULT_RECORD_BYTES
    )
    if args.hot_key_share is not None and args.key_skew is not None:
        raise CdrcapError("pass either --key-skew or --hot-key-share, not both")
    if args.hot_key_share is not None:
        keys = skew.hot_key(args.hot_key_share)
    elif args.key_skew:
        keys = skew.zipf(args.key_skew, args.distinct_keys)
    elif inputs.get("hot_key_share") is not None:
        keys = skew.hot_key(float(inputs["hot_key_share"]))
    else:
        keys = skew.uniform()
    if args.consumers < 1:
        raise CdrcapError(f"--consumers {args.consumers}: at least 1 (this pipeline)")
    if args.current_shards is not None and args.current_shards < 1:
        raise CdrcapError(f"--current-shards {args.current_shards}: must be >= 1")
    slo = _slo(args, inputs.get("slo") or {})
    current_shards = args.current_shards if args.current_shards is not None else inputs.get("current_shards")
    cdrs_per_record = _first(args.cdrs_per_record, inputs.get("cdrs_per_record"), 1.0)
    workload = Workload(
        rate_rps=float(rate),
        record_bytes=float(record_bytes),
        keys=keys,
        other_consumers=args.consumers - 1,
        current_shards=current_shards,
        use=_resource_use(args.resource_use, inputs.get("resource_use"), args.from_run),
        cdrs_per_record=cdrs_per_record,
    )
    modes = ("shared", "efo") if args.consumer_mode == "any" else (args.consumer_mode,)
    space = SearchSpace(consumer_modes=modes, concurrency_limit=args.concurrency_limit)
    prices = quotas.load_prices(args.region_prices) if args.region_prices else quotas.US_EAST_1
    return service, workload, slo, space, prices


def _slo(args: argparse.Namespace, run_slo: dict[str, Any]) -> Slo:
    """Flags, else the run's SLO, else the defaults."""
    default = Slo()
    slo = Slo(
        _first(args.slo_e2e_p99_ms, run_slo.get("e2e_p99_ms"), default.e2e_p99_ms),
        _first(args.slo_iterator_age_max_ms, run_slo.get("iterator_age_max_ms"), default.iterator_age_max_ms),
        _first(args.headroom, run_slo.get("headroom_factor"), default.headroom_factor),
    )
    if slo.headroom_factor < 1:
        raise CdrcapError(f"--headroom {slo.headroom_factor}: must be >= 1 (2 = stable at twice the peak)")
    if slo.e2e_p99_ms <= 0 or slo.iterator_age_max_ms <= 0:
        raise CdrcapError(
            f"SLO values must be > 0 ms (got e2e p99 {slo.e2e_p99_ms}, "
            f"iterator age {slo.iterator_age_max_ms})"
        )
    return slo


def _first(*values: Any) -> float:
    return float(next(value for value in values if value is not None))


def _resource_use(path: Path | None, from_run: dict[str, Any] | None, run_dir: Path | None) -> ResourceUse:
    if path is not None:
        return resource_use.load(path)
    if from_run:
        values = {key: value for key, value in from_run.items() if key != "source" and value is not None}
        return resource_use.from_mapping(values, str(from_run.get("source") or f"run {run_dir}"))
    return resource_use.DEFAULT


def run(args: argparse.Namespace) -> int:
    if args.plot and not args.traffic:
        raise CdrcapError(f"--plot {args.plot}: draws a day of traffic; give the day with --traffic FILE")
    args.traffic_day = traffic_spec.load(args.traffic) if args.traffic else None
    inputs = build_inputs(args)
    result = plan(*inputs)
    if args.traffic_day is not None:
        result.details["scaling_policies"] = scaling_policies.compare(
            result.recommendation, *inputs, args.traffic_day
        )
    if args.emit_params:
        parameters = cloudformation_parameters(result.recommendation)
        if "scaling_policies" in result.details:
            parameters += scaler_parameters(result.details["scaling_policies"])
        args.emit_params.write_text(json.dumps(parameters, indent=2) + "\n", encoding="utf-8")
    if args.plot:
        from reports.scaling_plot import plot_scaling_day  # matplotlib only when a plot is asked for

        plot_scaling_day(result.details["scaling_policies"], args.plot)
        print(f"plot of the day: {args.plot}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        render(result, Console())
        if "scaling_policies" in result.details:
            render_scaling(result.details["scaling_policies"], Console())
    if not result.feasible:
        print(
            "cdrcap plan: no configuration meets the SLO within quotas; shown: the closest.", file=sys.stderr
        )
        return EXIT_CHECK_FAILED
    return EXIT_OK


def _with_interval(predicted: dict[str, Any], key: str) -> str:
    """A predicted value, with its 80% interval over the simulator's replications when it has one."""
    value = predicted[key]
    if value is None:
        return "unbounded"
    stem = key.removesuffix("_ms")
    low, high = predicted.get(f"{stem}_lo_ms"), predicted.get(f"{stem}_hi_ms")
    if low is None or high is None:
        return f"{value:,}"
    return f"{value:,} (80% interval {low:,}-{high:,})"


def render(result: Plan, console: Console) -> None:
    rec = result.recommendation
    title = "Recommendation" if result.feasible else "NO configuration meets the SLO - closest"
    table = Table(title=title, show_header=False)
    for key in CONFIGURATION_KEYS:
        table.add_row(key, str(rec[key]))
    predicted = rec["predicted"]
    for key in predicted:
        if key.endswith(("_lo_ms", "_hi_ms")):
            continue  # shown beside the central value
        table.add_row(f"predicted {key}", _with_interval(predicted, key))
    console.print(table)
    console.print(f"Why: {rec['binding_constraint']}")
    costs = Table(title="Monthly cost (USD)")
    costs.add_column("item")
    costs.add_column("usd", justify="right")
    for name, usd in rec["cost_breakdown_usd"].items():
        costs.add_row(name, f"{usd:,.2f}")
    console.print(costs)
    if rec["runner_ups"]:
        ups = Table(title="Runner-ups")
        for column in (
            "shards",
            "PF",
            "batch",
            "window_s",
            "memory",
            "arch",
            "consumer",
            "usd/month",
            "e2e p99 ms",
        ):
            ups.add_column(column)
        for up in rec["runner_ups"]:
            ups.add_row(
                str(up["shards"]),
                str(up["parallelization_factor"]),
                str(up["batch_size"]),
                str(up["batching_window_s"]),
                str(up["memory_mb"]),
                up["architecture"],
                up["consumer_mode"],
                f"{up['monthly_cost_usd']:,.2f}",
                str(up["predicted"]["e2e_latency_p99_ms"]),
            )
        console.print(ups)
    if rec["resharding_path"]:
        path = " -> ".join(
            [str(rec["resharding_path"][0]["from_shards"])]
            + [str(step["to_shards"]) for step in rec["resharding_path"]]
        )
        console.print(f"Resharding path (UpdateShardCount calls): {path}")
    later = rec["at_plus_50pct"]
    if later:
        console.print(
            f"At +50% load: {later['shards']} shards x PF {later['parallelization_factor']}, "
            f"batch {later['batch_size']}, window {later['batching_window_s']} s, "
            f"{later['monthly_cost_usd']:,.2f} USD/month" + ("" if later.get("feasible") else " (misses)")
        )
    render_consumer_modes(result.details["consumer_modes"], console)
    alt = result.details["on_demand_alternative"]
    console.print(f"On-demand stream instead: {alt['monthly_cost_usd']:,.2f} USD/month")
    render_aggregation(result.details["aggregation"], console)


def render_aggregation(comparison: dict[str, Any], console: Console) -> None:
    """Input-stream shards and cost without and with producer aggregation (KPL)."""
    table = Table(title="Producer aggregation (input stream)")
    for column in ("aggregation", "CDRs/rec", "rec/s", "shards", "min rec/bytes", "stream usd", "usd/month"):
        table.add_column(column)
    for row in comparison["rows"]:
        table.add_row(
            row["aggregation"],
            f"{row['cdrs_per_record']:,.1f}",
            f"{row['kinesis_records_per_s']:,.0f}",
            str(row["shards"]),
            f"{row['shards_by_records']}/{row['shards_by_bytes']}",
            f"{row['input_stream_usd']:,.2f}",
            f"{row['monthly_cost_usd']:,.2f}",
        )
    console.print(table)
    console.print(f"Aggregation: {comparison['sentence']}")
    if comparison["planned_cdrs_per_record"] > 1:
        console.print(
            f"Set the event source mapping's BatchSize to {comparison['esm_batch_size_kinesis_records']:,} "
            "Kinesis records (the plan's batch_size counts CDRs)"
        )


def render_consumer_modes(modes: dict[str, Any], console: Console) -> None:
    """Shared polling vs enhanced fan-out side by side, then the verdict sentence."""
    table = Table(title="Consumer mode")
    for column in ("mode", "meets SLO", "usd/month", "e2e p99 ms", "best p99 ms", "delivery ms", "shards"):
        table.add_column(column)
    for mode in ("shared", "efo"):
        entry = modes.get(mode)
        if entry is None:
            continue
        table.add_row(
            mode + (" (wins)" if modes.get("winner") == mode else ""),
            "yes" if entry["feasible"] else "no",
            f"{entry['monthly_cost_usd']:,.2f}",
            "unbounded" if entry["e2e_latency_p99_ms"] is None else f"{entry['e2e_latency_p99_ms']:,.0f}",
            "unbounded"
            if entry["best_e2e_latency_p99_ms"] is None
            else f"{entry['best_e2e_latency_p99_ms']:,.0f}",
            f"{entry['typical_delivery_ms']:,.0f}",
            str(entry["shards"]),
        )
    console.print(table)
    console.print(f"Consumer mode: {modes['sentence']}")
