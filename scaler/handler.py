"""The deployed scaler (infra/scaler.yaml): every minute, and when a scaling alarm fires, read the last
minute's metrics and the stream's state, run `scaler.policy.decide` (the code the planner simulated) and
make the calls it asks for: UpdateShardCount on the input stream, UpdateEventSourceMapping for PF.

The recent UpdateShardCount calls (for ten per rolling 24 h) and the last PF change live in tags of the
stream itself, so the function keeps no other state and needs no other resource.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from scaler.policy import DAY_S, Decision, Observation, ScalerPolicy, StreamLimits, decide

CALLS_TAG = "cdrcap-scaler-shard-calls"  # space-separated epoch seconds of recent UpdateShardCount calls
PF_TAG = "cdrcap-scaler-pf-change"  # epoch seconds of the last PF change
METRIC_WINDOW_S = 300  # look back this far for the newest complete minute (CloudWatch lags ~1-2 min)


class ScalerConfigError(ValueError):
    """A missing or malformed environment variable; the message names it."""


@dataclass(frozen=True)
class Config:
    stream_name: str
    mapping_uuid: str
    function_name: str
    limits: StreamLimits
    policy: ScalerPolicy

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        env = dict(os.environ) if env is None else env
        try:
            limits = StreamLimits(**json.loads(env["CDRCAP_SCALER_LIMITS"]))
            policy = ScalerPolicy(**json.loads(env.get("CDRCAP_SCALER_POLICY") or "{}"))
            return cls(
                env["CDRCAP_STREAM_NAME"],
                env["CDRCAP_MAPPING_UUID"],
                env["CDRCAP_FUNCTION_NAME"],
                limits,
                policy,
            )
        except KeyError as error:
            raise ScalerConfigError(f"environment variable {error.args[0]} is not set") from error
        except (TypeError, ValueError) as error:
            valid = [f.name for f in fields(StreamLimits)] + [f.name for f in fields(ScalerPolicy)]
            raise ScalerConfigError(f"CDRCAP_SCALER_LIMITS/POLICY: {error}; keys: {valid}") from error


def _newest(result: dict[str, Any], metric_id: str) -> float:
    for series in result["MetricDataResults"]:
        if series["Id"] == metric_id and series["Values"]:
            pairs = sorted(zip(series["Timestamps"], series["Values"], strict=True))
            return float(pairs[-1][1])
    return 0.0


def observe(kinesis: Any, lambda_: Any, cloudwatch: Any, config: Config, now_s: float) -> Observation:
    """The decision's input from DescribeStreamSummary, GetEventSourceMapping, the stream's tags and the
    last minute of IncomingRecords / IncomingBytes (Sum) and the function's IteratorAge (Maximum)."""
    summary = kinesis.describe_stream_summary(StreamName=config.stream_name)["StreamDescriptionSummary"]
    mapping = lambda_.get_event_source_mapping(UUID=config.mapping_uuid)
    tags = {t["Key"]: t["Value"] for t in kinesis.list_tags_for_stream(StreamName=config.stream_name)["Tags"]}
    calls = tuple(float(at) for at in tags.get(CALLS_TAG, "").split() if now_s - float(at) < DAY_S)
    end = datetime.fromtimestamp(now_s, UTC)
    stream = [{"Name": "StreamName", "Value": config.stream_name}]
    function = [{"Name": "FunctionName", "Value": config.function_name}]
    queries = [
        ("records", "AWS/Kinesis", "IncomingRecords", stream, "Sum"),
        ("bytes", "AWS/Kinesis", "IncomingBytes", stream, "Sum"),
        ("age", "AWS/Lambda", "IteratorAge", function, "Maximum"),
    ]
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": metric_id,
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dims},
                    "Period": 60,
                    "Stat": stat,
                },
            }
            for metric_id, namespace, name, dims, stat in queries
        ],
        StartTime=end - timedelta(seconds=METRIC_WINDOW_S),
        EndTime=end,
    )
    return Observation(
        now_s=now_s,
        incoming_records_per_s=_newest(result, "records") / 60.0,
        incoming_bytes_per_s=_newest(result, "bytes") / 60.0,
        iterator_age_ms=_newest(result, "age"),
        open_shards=int(summary["OpenShardCount"]),
        parallelization_factor=int(mapping.get("ParallelizationFactor", 1)),
        stream_updating=summary["StreamStatus"] != "ACTIVE",
        shard_calls_s=calls,
        last_pf_change_s=float(tags.get(PF_TAG, "-inf")),
    )


def apply(kinesis: Any, lambda_: Any, config: Config, observation: Observation, decision: Decision) -> None:
    """Make the calls; record them in the stream's tags first, so a failed call still counts (AWS may have
    taken it)."""
    now = observation.now_s
    if decision.shards is not None:
        calls = [*observation.shard_calls_s, now]
        kinesis.add_tags_to_stream(
            StreamName=config.stream_name, Tags={CALLS_TAG: " ".join(f"{at:.0f}" for at in calls)}
        )
        kinesis.update_shard_count(
            StreamName=config.stream_name, TargetShardCount=decision.shards, ScalingType="UNIFORM_SCALING"
        )
    if decision.parallelization_factor is not None:
        kinesis.add_tags_to_stream(StreamName=config.stream_name, Tags={PF_TAG: f"{now:.0f}"})
        lambda_.update_event_source_mapping(
            UUID=config.mapping_uuid, ParallelizationFactor=decision.parallelization_factor
        )


def run_once(kinesis: Any, lambda_: Any, cloudwatch: Any, config: Config, now_s: float) -> dict[str, Any]:
    observation = observe(kinesis, lambda_, cloudwatch, config, now_s)
    decision = decide(observation, config.limits, config.policy)
    apply(kinesis, lambda_, config, observation, decision)
    return {"observation": asdict(observation), "decision": asdict(decision)}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (EventBridge schedule or a CloudWatch alarm action; the event is not read)."""
    import boto3  # the Lambda runtime provides it; imported here so the decision code needs nothing

    config = Config.from_env()
    result = run_once(
        boto3.client("kinesis"), boto3.client("lambda"), boto3.client("cloudwatch"), config, time.time()
    )
    print(json.dumps({"scaler": result["decision"]}, default=str))
    return result
