"""The stages of a capacity run that `cdrcap.orchestrate` sequences: open the target, shape the load,
wait for the pipeline to drain, and turn the measurements into a fitted model, predictions and a plan.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from capacity import cold_starts, payload, quotas, resource_use, scaling_policies, skew
from capacity.fit import ServiceTimeModel, cold_start_ms, fit_service_time
from capacity.measure import CloudWatchReader, LocalTraceReader, MetricsReader, save_tables
from capacity.model import ReadPath
from capacity.planner import Plan, plan
from capacity.quotas import US_EAST_1
from capacity.recorded import RecordedArrivals, busiest_lane, read_shard
from capacity.search import PlanInputs, SearchSpace, Slo, Workload
from cdrcap import traffic_spec
from cdrcap.aws_targets import aws_target, running_local_stack
from cdrcap.config import Profile
from cdrcap.config import Target as ConfigTarget
from cdrcap.costing import EmfWindow, emf_from_handler_log, emf_from_metrics, measured_use, run_costs
from cdrcap.errors import CdrcapError
from cdrcap.predict_run import key_distribution, measured_read_path, predict_run_steps
from infra.aws import Target, client
from infra.local.deploy_local import TEMPLATE_PATH
from infra.local.emulator import free_port, port_is_free
from infra.local.esm.config import POLLS_FILE
from infra.local.esm.dispatch import lane_of
from infra.local.stack import LocalStack, LocalStackConfig, StackInfo
from infra.template import parse_template
from loadgen.synth.config import DefectRates, FraudRates
from pipeline import constants
from reports import measured

DRAIN_DEADLINE_S = 120.0
DRAIN_QUIET_S = 3.0
DRAIN_QUIET_LOGS_S = 10.0  # CloudWatch Logs: the local sink flushes every 2 s, AWS delivers in seconds
DRAIN_AGE_MS = 2_000.0


@dataclass
class StackHandle:
    """Where the run sends its load and reads its measurements, and how to close it afterwards."""

    target: Target
    input_stream: str
    reader: MetricsReader
    config_that_ran: dict[str, Any]
    read_path: ReadPath
    state_dir: Path | None = None
    local_stack: LocalStack | None = None
    info: StackInfo | None = None
    trace_path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def measured_via(self) -> str:
        """summary.json's `measured_via`: the local runtime's trace, or CloudWatch (the staging path)."""
        return "cloudwatch" if isinstance(self.reader, CloudWatchReader) else "trace"

    def describe(self) -> dict[str, Any]:
        described = {**self.config_that_ran, "input_stream": self.input_stream, **self.extra}
        if isinstance(self.reader, CloudWatchReader):
            described["cloudwatch_read"] = self.reader.read_cost()
        return described

    def recent_invocations(self, since_epoch_s: float) -> pd.DataFrame:
        return self.reader.invocations(since_epoch_s, time.time() + 1)

    def close(self, echo: Callable[[str], None]) -> None:
        if self.local_stack is not None:
            stopped = self.local_stack.down()
            echo("local stack stopped: " + ", ".join(f"{name} {how}" for name, how in stopped.items()))


def _free_port_pair() -> int:
    """A port whose successor is free too (the limits proxy listens on port + 1)."""
    for _ in range(50):
        port = free_port()
        if port < 65535 and port_is_free(port + 1):
            return port
    raise CdrcapError("found no two adjacent free loopback ports; pass --port")


def open_target(
    target: ConfigTarget, profile: Profile, run_dir: Path, *, port: int | None, echo: Callable[[str], None]
) -> StackHandle:
    if target.is_local:
        return _open_local(profile, run_dir, port=port, echo=echo)
    return _open_aws(target, profile)


def _open_local(
    profile: Profile, run_dir: Path, *, port: int | None, echo: Callable[[str], None]
) -> StackHandle:
    state_dir = run_dir / "stack"
    stack = LocalStack(state_dir=state_dir)
    config = LocalStackConfig(
        shards=profile.shards,
        batch_size=profile.batch_size,
        batching_window_s=profile.batching_window_s,
        parallelization_factor=profile.parallelization_factor,
        scale=profile.scale,
        port=port or _free_port_pair(),
        exactly_once=profile.exactly_once,
    )
    echo(
        f"starting the local stack: {config.shards} shards at scale {config.scale} "
        f"({config.scale * quotas.SHARD_WRITE_RECORDS_PER_S:.0f} records/s per shard), "
        f"batch {config.batch_size}, "
        f"window {config.batching_window_s} s, PF {config.parallelization_factor}"
    )
    info = stack.up(config)
    trace_path = Path(info.trace_path)
    return StackHandle(
        target=info.target(),
        input_stream=info.input_stream_name,
        reader=LocalTraceReader(
            trace_path, Path(info.metrics_path), polls_path=Path(info.state_dir) / POLLS_FILE
        ),
        config_that_ran={
            "shards": config.shards,
            "parallelization_factor": config.parallelization_factor,
            "batch_size": config.batch_size,
            "batching_window_s": config.batching_window_s,
            "memory_mb": config.memory_mb,
            "scale": config.scale,
            "output_shards": _open_shards(info.target(), info.output_stream_name),
        },
        read_path=ReadPath.local_runtime(),
        state_dir=state_dir,
        local_stack=stack,
        info=info,
        trace_path=trace_path,
        extra={"endpoint_url": info.endpoint_url},
    )


def pipeline_outputs(template_path: Path = TEMPLATE_PATH) -> list[str]:
    """Every output infra/pipeline.yaml always declares: a stack lacking one came from another template."""
    outputs = parse_template(template_path.read_text(), source=str(template_path)).get("Outputs", {})
    return sorted(name for name, output in outputs.items() if "Condition" not in output)


def stack_outputs(aws: Target, target: ConfigTarget, stack_name: str) -> dict[str, str]:
    """The deployed pipeline stack's outputs; exit 2 naming what is missing and the command that fixes it."""
    deploy = f"`cdrcap deploy --target {target.name} --params params.json` (docs/deploy.md)"
    try:
        stacks = client(aws, "cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except Exception as error:  # botocore's errors have no common base worth naming here
        raise CdrcapError(
            f"cannot read the stack {stack_name!r} in {aws.region} for target {target.name!r}: {error}. "
            f"Deploy it first: {deploy}"
        ) from error
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [key for key in pipeline_outputs() if key not in outputs]
    if missing:
        raise CdrcapError(
            f"the stack {stack_name!r} of target {target.name!r} lacks the outputs {', '.join(missing)}: it "
            f"was not deployed from infra/pipeline.yaml. Deploy the pipeline template: {deploy}"
        )
    return outputs


def _check_emulator_scale(profile: Profile, scale: float) -> None:
    if abs(profile.scale - scale) > 1e-9:
        raise CdrcapError(
            f"the local stack runs its shard limits at scale {scale} but profile {profile.name!r} is sized "
            f"for scale {profile.scale}; restart it with `cdrcap down && cdrcap up --scale {profile.scale}`"
        )


def _open_aws(target: ConfigTarget, profile: Profile) -> StackHandle:
    """A deployed pipeline stack: names from its CloudFormation outputs, settings from its mapping, the
    measurements from CloudWatch (per invocation from the function's logs, else 1-minute metrics)."""
    aws = aws_target(target)
    scale = 1.0
    if aws.emulator:
        _, info = running_local_stack(target)
        scale = info.config.scale
        _check_emulator_scale(profile, scale)
    stack_name = constants.DEFAULT_STACK_NAME
    outputs = stack_outputs(aws, target, stack_name)
    stream, function = outputs[constants.OUTPUT_INPUT_STREAM_NAME], outputs[constants.OUTPUT_FUNCTION_NAME]
    mappings = client(aws, "lambda").list_event_source_mappings(
        FunctionName=function, EventSourceArn=outputs[constants.OUTPUT_INPUT_STREAM_ARN]
    )["EventSourceMappings"]
    if not mappings:
        raise CdrcapError(
            f"the stack {stack_name!r} of target {target.name!r} has no event source mapping on {stream}, so "
            f"nothing runs the function; deploy infra/pipeline.yaml: `cdrcap deploy --target {target.name} "
            "--params params.json` (docs/deploy.md)"
        )
    mapping = mappings[0]
    shards = client(aws, "kinesis").describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    memory_mb = client(aws, "lambda").get_function_configuration(FunctionName=function)["MemorySize"]
    if aws.emulator:
        aws = replace(aws, allowed_streams=(stream,))
    return StackHandle(
        target=aws,
        input_stream=stream,
        reader=CloudWatchReader(
            client(aws, "cloudwatch"), stream_name=stream, function_name=function, logs=client(aws, "logs")
        ),
        config_that_ran={
            "shards": int(shards["OpenShardCount"]),
            "parallelization_factor": int(mapping.get("ParallelizationFactor", 1)),
            "batch_size": int(mapping.get("BatchSize", 100)),
            "batching_window_s": float(mapping.get("MaximumBatchingWindowInSeconds", 0)),
            "memory_mb": int(memory_mb),
            "scale": scale,
            "output_shards": _open_shards(aws, outputs[constants.OUTPUT_OUTPUT_STREAM_NAME]),
        },
        read_path=ReadPath.shared(1),
        extra={"stack_name": stack_name, "function_name": function}
        | ({"endpoint_url": aws.endpoint_url} if aws.emulator else {}),
    )


def _open_shards(target: Target, stream: str) -> int | None:
    """The open shards of a stream (the output stream's, for the run's metered cost); None if unreadable."""
    try:
        summary = client(target, "kinesis").describe_stream_summary(StreamName=stream)
    except Exception:  # the metered cost then assumes one output shard; the run goes on
        return None
    return int(summary["StreamDescriptionSummary"]["OpenShardCount"])


def _format_mix(profile: Profile) -> str:
    return ",".join(f"{name.replace('_', '-')}={share}" for name, share in profile.record_formats.items())


def step_plan(profile: Profile) -> tuple[float, int]:
    """The step shape runs `steps` equal increments up to the peak; check the profile's rates are those."""
    peak, count = max(profile.steps), len(profile.steps)
    if profile.shape == "step":
        expected = [peak * (k + 1) / count for k in range(count)]
        if any(abs(a - b) > 1e-6 * peak for a, b in zip(profile.steps, expected, strict=True)):
            raise CdrcapError(
                f"profiles.{profile.name}.steps: the step shape climbs in equal increments to the peak; "
                f"got {list(profile.steps)}, use {[round(r, 3) for r in expected]}"
            )
    return peak, count


def load_arguments(profile: Profile, run_dir: Path) -> dict[str, Any]:
    """run_load's arguments for a profile (the fraud/defect shares become multipliers of loadgen's rates)."""
    peak, count = step_plan(profile)
    defect_total = sum(DefectRates().as_dict().values())
    return {
        "shape": profile.shape,
        "rate_rps": peak,
        "duration_s": profile.duration_s,
        "run_dir": run_dir,
        "steps": count,
        "partition_key": profile.partition_key,
        "hot_share": profile.hot_key_share,
        "shard_limits": (
            quotas.SHARD_WRITE_RECORDS_PER_S * profile.scale,
            quotas.SHARD_WRITE_BYTES_PER_S * profile.scale,
        ),
        "seed": profile.seed,
        "fraud_scale": profile.fraud_rate / FraudRates().total(),
        "defect_scale": profile.defect_rate / defect_total,
        "formats": _format_mix(profile),
        "aggregation": profile.aggregation,
        "max_buffered_ms": profile.max_buffered_ms,
        "aggregation_max_bytes": profile.aggregation_max_bytes,
    }


def drain(handle: StackHandle, *, echo: Callable[[str], None], deadline_s: float = DRAIN_DEADLINE_S) -> None:
    """Wait until the consumer has caught up: no invocation for a few seconds, or the last one fresh.
    From CloudWatch Logs the quiet period is longer (log delivery lags) and the polls fewer."""
    reader = handle.reader
    from_logs = isinstance(reader, CloudWatchReader)
    if isinstance(reader, CloudWatchReader) and reader.logs is None:
        return  # 1-minute metrics only: nothing fine-grained to wait on; CloudWatch shows the tail
    quiet_s, poll_s = (DRAIN_QUIET_LOGS_S, 2.0) if from_logs else (DRAIN_QUIET_S, 0.5)
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        recent = handle.recent_invocations(time.time() - 30)
        if recent.empty:
            return
        last_start_s = float(recent["start_epoch_ms"].max()) / 1000
        last_age_ms = float(recent.sort_values("start_epoch_ms")["iterator_age_ms"].iloc[-1])
        if time.time() - last_start_s > quiet_s and not last_age_ms >= DRAIN_AGE_MS:
            return
        time.sleep(poll_s)
    echo(f"WARNING: the pipeline had not drained after {deadline_s:.0f} s; measuring anyway")


@dataclass(frozen=True)
class Analysis:
    service_time_model: dict[str, Any]
    recommendation: dict[str, Any]
    predictions: list[dict[str, Any]]
    record_bytes: float
    design_rate_rps: float
    slo_met: bool
    put_latency_ms: Any = None
    plan_details: dict[str, Any] = field(default_factory=dict)  # resource use, quota checks, ...
    plan_inputs: dict[str, Any] = field(default_factory=dict)  # what `cdrcap plan --from` re-plans with
    run_cost: dict[str, Any] | None = None  # metered vs predicted cost of the configuration that ran


def _key_distribution(profile: Profile) -> skew.KeyDistribution:
    return key_distribution(profile.partition_key, profile.hot_key_share)


def _record_bytes(load_summary: dict[str, Any]) -> float:
    totals = load_summary.get("totals", {})
    accepted = float(totals.get("accepted", 0))
    return float(totals.get("accepted_bytes", 0)) / accepted if accepted else 300.0


def design_rate(profile: Profile, handle: StackHandle) -> float:
    """The production rate the plan is for: the profile's peak, scaled up from a scale-model stream."""
    return max(profile.steps) / float(handle.config_that_ran.get("scale", 1.0))


def _recorded_arrivals(
    handle: StackHandle, start_epoch_s: float, end_epoch_s: float
) -> RecordedArrivals | None:
    """The busiest lane's real arrivals, read back from the local stream (the emulator, not the proxy:
    the read-back must not spend the shard's read budget). None on AWS or when the read fails."""
    if handle.info is None:
        return None
    direct = Target(
        name="local", region=handle.target.region, endpoint_url=handle.info.endpoint_url, is_local=True
    )
    try:
        kinesis = client(direct, "kinesis")
        shard_ids = [s["ShardId"] for s in kinesis.list_shards(StreamName=handle.input_stream)["Shards"]]
        shards = [(shard_id, read_shard(kinesis, handle.input_stream, shard_id)) for shard_id in shard_ids]
    except Exception:  # the prediction falls back to generated arrivals; the run must not fail on it
        return None
    lanes = int(handle.config_that_ran["parallelization_factor"])
    return busiest_lane(shards, lanes, lane_of, start_epoch_s, end_epoch_s)


def local_output_stream(handle: StackHandle) -> tuple[Any, str] | None:
    """(a Kinesis client of the emulator itself, the output stream) on the local stack; None elsewhere.
    Read directly, not through the limits proxy: a read-back must not spend the shard's read budget."""
    if handle.info is None:
        return None
    direct = Target(
        name="local", region=handle.target.region, endpoint_url=handle.info.endpoint_url, is_local=True
    )
    return client(direct, "kinesis"), handle.info.output_stream_name


def _measured_read_path(handle: StackHandle, start_epoch_s: float, end_epoch_s: float) -> ReadPath:
    """The local runtime's read path with its measured GetRecords call time as the delivery delay."""
    if not handle.read_path.prefetch:
        return handle.read_path
    return measured_read_path(handle.read_path, handle.reader.metrics(start_epoch_s, end_epoch_s))


def analyse(
    handle: StackHandle,
    profile: Profile,
    run_dir: Path,
    start_epoch_s: float,
    end_epoch_s: float,
    *,
    echo: Callable[[str], None],
    producers: int = 0,
) -> Analysis:
    """Fit, predict every step, plan. `producers`: the load generator's users (their paced calls are how
    the records arrived; 0 for Poisson)."""
    import json

    save_tables(handle.reader, run_dir, start_epoch_s, end_epoch_s)
    invocations = handle.reader.invocations(start_epoch_s, end_epoch_s)
    summary_path = run_dir / "data" / "load_summary.json"
    load_summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    record_bytes = _record_bytes(load_summary)
    if invocations.empty or len(invocations) < 3:
        raise CdrcapError(
            f"only {len(invocations)} handler invocations were measured; the run is too short to fit a "
            f"model (see {run_dir}/stack/logs)"
        )
    # 1-minute CloudWatch rows (no logs) are averages: weight each by its invocation count
    weights = "invocations" if "invocations" in invocations.columns else None
    service = fit_service_time(
        invocations, memory_mb=int(handle.config_that_ran["memory_mb"]), weights_column=weights
    )
    read_path = _measured_read_path(handle, start_epoch_s, end_epoch_s)
    recorded = _recorded_arrivals(handle, start_epoch_s, end_epoch_s)
    if recorded is not None:
        pd.DataFrame(
            {
                "arrival_epoch_s": np.sort(recorded.shard_epoch_s),
                "in_lane": recorded.lane_mask(),
                "shard_id": recorded.shard_id,  # whose GetRecords calls the re-prediction draws from
            }
        ).to_csv(run_dir / "data" / "recorded_arrivals.csv", index=False)  # to re-predict offline
        echo(
            f"predictions replay the {recorded.lane_epoch_s.size} recorded arrivals of {recorded.shard_id} "
            f"lane {recorded.lane}; GetRecords delivery {read_path.delivery_s * 1000:.0f} ms"
        )
    echo(f"service time: {service.formula()} (R² {service.r2:.2f})")
    load_seconds = pd.read_csv(run_dir / "data" / "load_seconds.csv")
    steps = measured.steps(load_seconds, invocations)
    for note in measured.measurability_notes(steps):
        echo(f"WARNING: {note}")
    keys = _key_distribution(profile)
    predictions = predict_run_steps(
        service,
        invocations,
        steps,
        handle.config_that_ran,
        record_bytes=record_bytes,
        read=read_path,
        keys=keys,
        producers=producers,
        recorded=recorded,
        polls=handle.reader.polls(start_epoch_s, end_epoch_s),
        load_seconds=load_seconds,
    )
    rate = design_rate(profile, handle)
    slo = Slo(profile.slo.e2e_p99_ms, profile.slo.iterator_age_max_ms, profile.slo.headroom_factor)
    window = _emf_window(handle, start_epoch_s, end_epoch_s, invocations)
    use = measured_use(window, f"run {run_dir.name}")
    echo(
        f"resource use per CDR: {use.dynamodb_write_units:.2f} DynamoDB write units, "
        f"{use.output_records:.2f} output records of {use.output_bytes_per_record:,.0f} B ({use.source})"
    )
    workload = Workload(
        rate_rps=rate,
        record_bytes=record_bytes,
        keys=keys,
        current_shards=int(handle.config_that_ran["shards"]),
        use=use,
        cdrs_per_record=float(load_summary.get("cdrs_per_kinesis_record") or 1.0),
        exactly_once=handle.info.config.exactly_once if handle.info else resource_use.DEPLOYED_DESIGN,
    )
    cold = cold_starts.from_invocations(
        invocations, cold_start_ms(invocations, service), f"run {run_dir.name}"
    )
    result = plan_for_profile(service, workload, slo, profile, cold)
    if profile.scaling_day:
        day = traffic_spec.at_rate(profile.scaling_day, rate)
        inputs = PlanInputs(service, workload, slo)
        scaling_policies.add_day(result.details, result.recommendation, inputs, day, cold)
        echo(f"scaling policies over {day.source}: {result.details['scaling_policies']['sentence']}")
    if result.details.get("provisioned_concurrency"):
        echo(f"cold starts: {result.details['provisioned_concurrency']['sentence']}")
    run_cost = run_costs(
        window=window,
        invocations=invocations,
        load_summary=load_summary,
        config_that_ran=handle.config_that_ran,
        output_shards_ran=int(handle.config_that_ran.get("output_shards") or 1),
        service=service,
        use=use,
        read=read_path,
        record_bytes=record_bytes,
        seconds=end_epoch_s - start_epoch_s,
    )
    recommendation = dict(result.recommendation)
    echo(
        f"plan for {rate:,.0f} records/s: {recommendation['shards']} shards, PF "
        f"{recommendation['parallelization_factor']}, batch {recommendation['batch_size']}, window "
        f"{recommendation['batching_window_s']} s, {recommendation['memory_mb']} MB: "
        f"${recommendation['monthly_cost_usd']:,.2f}/month"
    )
    return Analysis(
        service_time_model=service.to_dict(),
        recommendation=recommendation,
        predictions=predictions,
        record_bytes=record_bytes,
        design_rate_rps=rate,
        slo_met=bool(result.feasible),
        plan_details={
            key: result.details[key]
            for key in (
                "resource_use_per_cdr",
                "quota_checks",
                "dynamodb_capacity_modes",
                "scaling_policies",
                "payload_formats",
                "cold_starts",
                "provisioned_concurrency",
                "prediction_intervals",
            )
            if key in result.details
        },
        plan_inputs={**plan_inputs(workload, slo, profile), "cold_start": cold.to_dict()},
        run_cost=run_cost,
    )


def plan_for_profile(
    service: ServiceTimeModel,
    workload: Workload,
    slo: Slo,
    profile: Profile,
    cold: cold_starts.ColdStartTimes = cold_starts.BENCH_DEFAULT,
) -> Plan:
    """The run's plan. A KPL run also plans every payload format x aggregation (details.payload_formats):
    its recommendation is the KPL plan of its own format at the measured CDRs per record, with the
    producer's buffering in the e2e latency."""
    if profile.aggregation != "kpl":
        return plan(service, workload, slo, cold=cold)
    ran_on = payload.MeasuredOn(payload.dominant_format(profile.record_formats), aggregated=True)
    request = payload.PayloadRequest(
        record_format=ran_on.record_format,
        aggregation="kpl",
        max_buffered_ms=profile.max_buffered_ms,
        cdrs_per_record=workload.cdrs_per_record if workload.cdrs_per_record > 1.0 else None,
        bytes_measured_on=ran_on,
        service_measured_on=ran_on,
    )
    return payload.plan_payload(service, workload, slo, SearchSpace(), US_EAST_1, request, cold=cold)


def plan_inputs(workload: Workload, slo: Slo, profile: Profile) -> dict[str, Any]:
    """Everything the run's plan was made from, so that `cdrcap plan --from RUN` makes the same plan."""
    return {
        "rate_rps": workload.rate_rps,
        "record_bytes": workload.record_bytes,
        "partition_key": profile.partition_key,
        "hot_key_share": profile.hot_key_share if profile.partition_key == "hot" else None,
        "current_shards": workload.current_shards,
        "slo": slo.to_dict(),
        "scale": profile.scale,
        "resource_use": workload.use.to_dict(),
        "cdrs_per_record": workload.cdrs_per_record,
        "exactly_once": workload.exactly_once,
    }


def _emf_window(
    handle: StackHandle, start_epoch_s: float, end_epoch_s: float, invocations: pd.DataFrame
) -> EmfWindow | None:
    """The handler's EMF sums over the run: its log locally, CloudWatch on AWS."""
    if handle.info is not None:
        return emf_from_handler_log(Path(handle.info.handler_log_path), start_epoch_s)
    weights = invocations.get("invocations", None)
    count = float(weights.sum()) if weights is not None else float(len(invocations))
    return emf_from_metrics(handle.reader.metrics(start_epoch_s, end_epoch_s), count)
