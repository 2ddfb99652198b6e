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

from capacity import cold_starts, payload, quotas, resource_use, scaling_policies, skew
from capacity.cold_starts import ColdStartTimes
from capacity.explain import (
    CONFIGURATION_KEYS,
    cloudformation_parameters,
    provisioned_concurrency_parameter,
    scaler_parameters,
)
from capacity.fit import ServiceTimeModel
from capacity.planner import Plan, plan
from capacity.resource_use import ResourceUse
from capacity.search import PlanInputs, SearchSpace, Slo, Workload
from capacity.tuning import TUNE_FILE, DurationCurve, TuneError, TuneTable
from cdrcap import traffic_spec
from cdrcap.errors import EXIT_CHECK_FAILED, EXIT_OK, CdrcapError
from cdrcap.scaling_render import render_scaling
from pipeline.constants import EXACTLY_ONCE_DESIGNS

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
    source.add_argument(
        "--exactly-once",
        choices=EXACTLY_ONCE_DESIGNS,
        help="the exactly-once design the pipeline runs (template ExactlyOnceDesign): it decides the hottest "
        "DynamoDB partition key the plan checks (default: the run's with --from, else per_record)",
    )
    source.add_argument(
        "--record-format",
        metavar="json|csv|avro",
        help="the producer's payload format: its measured bytes per CDR and decode cost "
        f"({payload.BENCH}); --record-bytes, --service-time or the run are taken as measured on it. Adds "
        "the format x aggregation table (details.payload_formats)",
    )
    source.add_argument(
        "--aggregation",
        metavar="none|kpl|auto",
        help="producer aggregation: kpl packs a shard's CDRs of one buffering time into 1 MiB records; "
        "auto plans every format x aggregation and picks the cheapest meeting the SLO (only among "
        "--record-format's if given)",
    )
    source.add_argument(
        "--max-buffered-ms",
        type=float,
        default=payload.DEFAULT_MAX_BUFFERED_MS,
        help="the KPL's buffering time, added to the e2e latency (default: the KPL's "
        f"RecordMaxBufferedTime, {payload.DEFAULT_MAX_BUFFERED_MS:g})",
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


def _load_tune(run_dir: Path | None) -> tuple[TuneTable, DurationCurve] | None:
    """The power-tuning sweep saved in the run directory (tune.json), if there is one."""
    if run_dir is None or not (run_dir / TUNE_FILE).is_file():
        return None
    path = run_dir / TUNE_FILE
    try:
        table = TuneTable.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except json.JSONDecodeError as error:
        raise CdrcapError(f"--from {run_dir}: {TUNE_FILE} is not valid JSON ({error})") from error
    except TuneError as error:
        raise CdrcapError(f"--from {run_dir}: {error}") from error
    return table, DurationCurve.from_table(table, str(path))


def _load_run(run_dir: Path, tune: TuneTable | None = None) -> dict[str, Any]:
    path = run_dir / "summary.json"
    if not path.exists() and tune is not None:
        # A tune's own directory: the run it replayed (if any) holds the load to plan for.
        source = tune.source_run
        return _load_run(Path(source)) if source and (Path(source) / "summary.json").is_file() else {}
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
    tune = _load_tune(args.from_run)
    summary = _load_run(args.from_run, tune[0] if tune else None) if args.from_run else {}
    service: ServiceTimeModel | None = None
    if args.service_time:
        a_ms, b_ms, c_ms = parse_service_time(args.service_time)
        service = ServiceTimeModel(a_ms, b_ms, c_ms)
    elif summary.get("service_time_model"):
        service = ServiceTimeModel.from_dict(summary["service_time_model"])
    elif tune is not None:
        service = _service_from_curve(tune[1])
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
    design = str(args.exactly_once or inputs.get("exactly_once") or resource_use.DEPLOYED_DESIGN)
    workload = Workload(
        rate_rps=float(rate),
        record_bytes=float(record_bytes),
        keys=keys,
        other_consumers=args.consumers - 1,
        current_shards=current_shards,
        use=_resource_use(
            args.resource_use,
            inputs.get("resource_use"),
            args.from_run,
            str(inputs.get("exactly_once") or resource_use.DEPLOYED_DESIGN),
            design,
        ),
        cdrs_per_record=cdrs_per_record,
        exactly_once=design,
    )
    modes = ("shared", "efo") if args.consumer_mode == "any" else (args.consumer_mode,)
    space = SearchSpace(consumer_modes=modes, concurrency_limit=args.concurrency_limit)
    if tune is not None:
        # The sweep's memories only: between and beyond them the curve would be a guess again.
        space = replace(space, memories_mb=tune[1].memories_mb, measured_curve=tune[1])
    prices = quotas.load_prices(args.region_prices) if args.region_prices else quotas.US_EAST_1
    return service, workload, slo, space, prices


def payload_request(args: argparse.Namespace) -> payload.PayloadRequest | None:
    """The format x aggregation question (None when neither --record-format nor --aggregation is given),
    with what the record bytes and the service time were measured on."""
    if args.record_format is None and args.aggregation is None:
        return None
    summary = _load_run(args.from_run) if args.from_run else {}
    inputs = summary.get("plan_inputs") or {}
    asked = args.record_format or "json"
    mix = (summary.get("profile") or {}).get("record_formats") or {}
    from_run = payload.MeasuredOn(
        payload.dominant_format(mix), float(inputs.get("cdrs_per_record") or 1.0) > 1.0
    )
    if args.record_bytes:
        bytes_on: payload.MeasuredOn | None = payload.MeasuredOn(asked)
    elif inputs.get("record_bytes") or (summary.get("profile") or {}).get("record_bytes"):
        bytes_on = from_run
    else:
        bytes_on = None  # the benchmark's bytes of each format
    service_on = payload.MeasuredOn(asked) if args.service_time or not args.from_run else from_run
    request = payload.PayloadRequest(
        record_format=args.record_format,
        aggregation=args.aggregation or "none",
        max_buffered_ms=args.max_buffered_ms,
        cdrs_per_record=args.cdrs_per_record,
        bytes_measured_on=bytes_on,
        service_measured_on=service_on,
    )
    request.check()
    return request


def _service_from_curve(curve: DurationCurve) -> ServiceTimeModel:
    """A per-record service time from the sweep alone (no run to fit one from): its measured batch's
    duration is exact, other batch sizes scale in proportion (no fixed per-invocation term)."""
    memory_mb = curve.memories_mb[-1]
    architecture = curve.stand_in("x86_64")
    per_record_ms = curve.duration_ms(memory_mb, architecture) / curve.batch_records
    return ServiceTimeModel(0.0, per_record_ms, memory_mb=memory_mb)


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


def _resource_use(
    path: Path | None, from_run: dict[str, Any] | None, run_dir: Path | None, run_design: str, design: str
) -> ResourceUse:
    """A file's use as given (taken as measured under the design planned); else the run's (measured under
    `run_design`) or the benchmark default (under the template's default design), with `design`'s aggregate
    units in place of the measured design's when they differ."""
    if path is not None:
        return resource_use.load(path)
    if from_run:
        values = {key: value for key, value in from_run.items() if key != "source" and value is not None}
        measured = resource_use.from_mapping(values, str(from_run.get("source") or f"run {run_dir}"))
        return resource_use.for_design(measured, run_design, design)
    return resource_use.for_design(resource_use.DEFAULT, resource_use.DEPLOYED_DESIGN, design)


def cold_start_times(run_dir: Path | None) -> ColdStartTimes:
    """What a cold start costs: the run's measurement (plan_inputs.cold_start), else the benchmark's."""
    if run_dir is None:
        return cold_starts.BENCH_DEFAULT
    tune = _load_tune(run_dir)
    measured = (_load_run(run_dir, tune[0] if tune else None).get("plan_inputs") or {}).get("cold_start")
    return ColdStartTimes.from_dict(measured) if measured else cold_starts.BENCH_DEFAULT


def run(args: argparse.Namespace) -> int:
    if args.plot and not args.traffic:
        raise CdrcapError(f"--plot {args.plot}: draws a day of traffic; give the day with --traffic FILE")
    args.traffic_day = traffic_spec.load(args.traffic) if args.traffic else None
    inputs = build_inputs(args)
    cold = cold_start_times(args.from_run)
    request = payload_request(args)
    if request is None:
        result = plan(*inputs, cold=cold)
    else:
        result = payload.plan_payload(*inputs, request, cold=cold)
        chosen = result.details["payload_formats"]["chosen"]
        picked = payload.variant(
            *inputs[:4], (chosen["record_format"], chosen["aggregation"]), request
        )  # what the recommendation was planned for, for the day's scaling policies
        inputs = (picked.service, picked.workload, *inputs[2:])
    if args.traffic_day is not None:
        scaling_policies.add_day(
            result.details, result.recommendation, PlanInputs(*inputs), args.traffic_day, cold
        )
    if args.emit_params:
        parameters = cloudformation_parameters(result.recommendation)
        parameters += provisioned_concurrency_parameter(result.details)
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
            "cdrcap plan: the SLO is met, but a sink exceeds its default quota (quota checks: remedy)."
            if result.details.get("slo_met")
            else "cdrcap plan: no configuration meets the SLO within quotas; shown: the closest.",
            file=sys.stderr,
        )
        return EXIT_CHECK_FAILED
    return EXIT_OK


def _with_interval(predicted: dict[str, Any], key: str) -> str:
    """A predicted value, with its 80% interval (the simulator's replications, widened by the calibrated
    margin: details.prediction_intervals) when it has one."""
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
    scaling = result.details.get("memory_scaling") or {}
    if scaling:
        console.print(f"Memory and architecture ({scaling['kind']}): {scaling['sentence']}")
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
    if "payload_formats" in result.details:
        render_payload_formats(result.details["payload_formats"], console)
    render_cold_starts(result.details, console)


def render_payload_formats(formats: dict[str, Any], console: Console) -> None:
    """Every format x aggregation pair's plan: shards, monthly cost and e2e p99, the chosen one starred."""
    table = Table(title="Payload format x aggregation (* = the plan above)")
    for column in ("pair", "B/CDR", "CDRs/rec", "shards", "usd/month", "e2e p99", "SLO"):
        table.add_column(column)
    for row in formats["rows"]:
        table.add_row(
            f"{row['record_format']} x {row['aggregation']}" + (" *" if row["chosen"] else ""),
            f"{row['bytes_per_cdr']:,.0f}",
            f"{row['cdrs_per_record']:,.0f}",
            str(row["shards"]),
            f"{row['monthly_cost_usd']:,.0f}",
            "unbounded" if row["e2e_p99_ms"] is None else f"{row['e2e_p99_ms']:,.0f}",
            "met" if row["slo_met"] else "missed",
        )
    console.print(table)
    console.print(f"Payload: {formats['sentence']}")


def render_cold_starts(details: dict[str, Any], console: Console) -> None:
    """Cold starts per day and the e2e p99 without and with provisioned concurrency, then the verdict."""
    cold, pc = details.get("cold_starts"), details.get("provisioned_concurrency")
    if not cold or not pc:
        return
    table = Table(title="Cold starts and provisioned concurrency (Lambda cost)")
    for column in ("function", "cold starts/day", "e2e p99 ms", "usd/month"):
        table.add_column(column)
    table.add_row(
        "no provisioned concurrency",
        f"{cold['per_day']['total']:,.1f}",
        f"{pc['e2e_p99_without_ms']:,.0f}",
        f"{pc['monthly_usd_without']:,.2f}",
    )
    table.add_row(
        f"PC {pc['provisioned_concurrency']:,} on the alias",
        "0",
        f"{pc['e2e_p99_with_ms']:,.0f}",
        f"{pc['monthly_usd_with']:,.2f}",
    )
    console.print(table)
    times = cold["times"]
    console.print(
        f"Cold start {times['penalty_ms']:,.0f} ms measured, {cold['penalty_at_plan_memory_ms']:,.0f} ms "
        f"at the plan's memory ({times['source']}), over {cold['per_day_schedule']}. "
        f"Provisioned concurrency: {pc['sentence']}"
    )


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
