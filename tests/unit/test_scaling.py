"""Scaling policies over a day of traffic (capacity/scaling*.py) and the traffic files they read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from capacity.errors import CapacityError
from capacity.fit import ServiceTimeModel
from capacity.planner import plan
from capacity.quotas import RESHARD_CALLS_PER_24H
from capacity.resharding import resharding_path
from capacity.scaling import fit_schedule
from capacity.scaling_policies import compare
from capacity.search import PlanInputs, SearchSpace, Slo, Workload
from capacity.traffic import read
from cdrcap.cli import main
from cdrcap.traffic_spec import load

SERVICE = ServiceTimeModel(40.0, 0.3, 0.0)


def _compare(spec: str) -> dict:
    day = load(spec)
    workload = Workload(rate_rps=day.peak_rps, record_bytes=400.0)
    result = plan(SERVICE, workload, Slo(), SearchSpace(), include_plus_50pct=False)
    policies = compare(result.recommendation, PlanInputs(SERVICE, workload), day)
    return {p["policy"]: p for p in policies["policies"]} | {"_": policies}


@pytest.fixture(scope="module")
def burst_day() -> dict:
    # A telecom day (loadgen's diurnal weights, 500 records/s at the busy hour) with a 10-minute storm at
    # 8x the day's peak at 18:00 (8,000 records/s: beyond the 4,000 a new on-demand stream takes).
    return _compare("diurnal:1000,burst=8x10@18:00")


def test_burst_day_on_demand_throttles_and_misses_the_slo(burst_day) -> None:
    on_demand = burst_day["on_demand_standard"]
    assert on_demand["records_throttled"] > 0
    assert on_demand["minutes_over_slo"] > 0


def test_burst_day_static_provisioning_rides_it_out(burst_day) -> None:
    static = burst_day["provisioned_static"]
    assert static["records_throttled"] == 0
    assert static["minutes_over_slo"] == 0
    assert static["shard_count_changes"] == 0


def test_every_policy_has_a_priced_breakdown_with_the_sinks(burst_day) -> None:
    for name in ("provisioned_static", "provisioned_schedule", "provisioned_reactive", "on_demand_standard"):
        policy = burst_day[name]
        assert policy["monthly_cost_usd"] == pytest.approx(
            sum(policy["cost_breakdown_usd"].values()), abs=0.1
        )
        assert policy["cost_breakdown_usd"]["dynamodb_writes"] > 0
    assert "kinesis_shard_hours" in burst_day["provisioned_static"]["cost_breakdown_usd"]
    assert "kinesis_data_in" in burst_day["on_demand_standard"]["cost_breakdown_usd"]


def test_recommendation_is_the_cheapest_policy_meeting_the_slo(burst_day) -> None:
    summary = burst_day["_"]
    meeting = [p for p in summary["policies"] if p["meets_slo"]]
    assert summary["recommended"] == min(meeting, key=lambda p: p["monthly_cost_usd"])["policy"]
    assert summary["recommended"] in summary["sentence"]


def test_schedule_stays_within_update_shard_count_quotas(burst_day) -> None:
    schedule = burst_day["provisioned_schedule"]
    assert schedule["shard_count_changes"] <= RESHARD_CALLS_PER_24H
    assert schedule["refused_shard_calls"] == 0
    for call in schedule["shard_calls"]:
        assert call["to_shards"] <= 2 * call["from_shards"]
        assert call["to_shards"] * 2 >= call["from_shards"]


def test_fit_schedule_merges_levels_until_the_calls_fit() -> None:
    # Given a need that changes every hour between 1 and 64 shards
    need = np.repeat([1, 64] * 12, 60)
    schedule = fit_schedule(need)
    levels = [shards for _, shards in schedule]
    calls = sum(
        len(resharding_path(a, b)) for a, b in zip(levels, levels[1:] + levels[:1], strict=True) if a != b
    )
    # Then the levels cover every minute's need with at most ten calls a day
    assert calls <= RESHARD_CALLS_PER_24H
    starts = [start for start, _ in schedule] + [need.size]
    for (start, shards), end in zip(schedule, starts[1:], strict=False):
        assert shards >= need[start:end].max()


def test_a_steady_diurnal_day_never_throttles_on_demand() -> None:
    # Given the day without a storm: its busiest hour is a peak the stream has seen before
    policies = _compare("diurnal:500")
    assert policies["on_demand_standard"]["records_throttled"] == 0
    assert policies["provisioned_reactive"]["refused_shard_calls"] == 0


def _write(tmp_path: Path, text: str, name: str = "day.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_plain_csv_with_iso_timestamps_is_read_per_minute(tmp_path) -> None:
    path = _write(tmp_path, "timestamp,records\n2026-12-31T23:58:00Z,600\n2026-12-31T23:59:00Z,1200\n")
    day = read(path)
    assert day.step_s == 60
    assert day.peak_rps == pytest.approx(20.0)


def test_cloudwatch_export_newest_first_is_sorted(tmp_path) -> None:
    text = "Timestamp,cdr-in IncomingRecords\n1767225660,120\n1767225600,60\n1767225720,180\n"
    day = read(_write(tmp_path, text))
    assert list(day.records) == [60, 120, 180]


def test_load_seconds_csv_uses_offered_per_second(tmp_path) -> None:
    text = "epoch_s,step,target_rps,offered,accepted,throttled\n" + "".join(
        f"{1000 + i},0,10,{10 + i},{10 + i},0\n" for i in range(120)
    )
    day = read(_write(tmp_path, text, "load_seconds.csv"))
    assert day.step_s == 1
    assert day.per_minute()[0] == sum(10 + i for i in range(60))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timestamp,records\n0,1\n60,2\n180,3\n", "line 4: gap of 120 s"),
        ("timestamp,records\n0,1\n60,-2\n", "line 3: records -2 must be a count"),
        ("when,how_many\n0,1\n", "line 1: columns"),
        ("timestamp,records\n0,1\nyesterday,2\n", "line 3: timestamp 'yesterday'"),
        ("timestamp,records\n0,1\n60,2\n60,3\n", "duplicate timestamp"),
        ("timestamp,records\n0,1\n30,2\n", "one per second or one per minute"),
    ],
)
def test_bad_traffic_files_name_the_line(tmp_path, text: str, message: str) -> None:
    with pytest.raises(CapacityError, match=message):
        read(_write(tmp_path, text))


def test_plan_cli_bad_traffic_file_exits_2_naming_the_line(tmp_path, capsys) -> None:
    path = _write(tmp_path, "timestamp,records\n0,1\n60,x\n")
    assert main(["plan", "--traffic", str(path), "--service-time", "40,0.3"]) == 2
    assert "line 3" in capsys.readouterr().err


def test_plan_cli_json_has_scaling_policies(tmp_path, capsys) -> None:
    rows = "".join(f"{i * 60},{3000 + 100 * (i % 30)}\n" for i in range(240))
    path = _write(tmp_path, "timestamp,records\n" + rows)
    code = main(["plan", "--traffic", str(path), "--service-time", "40,0.3", "--json"])
    scaling = json.loads(capsys.readouterr().out)["details"]["scaling_policies"]
    assert code in (0, 1)
    assert {p["policy"] for p in scaling["policies"]} >= {"provisioned_static", "on_demand_standard"}
    assert scaling["traffic"]["minutes"] == 240


def test_scaling_plot_is_written(burst_day, tmp_path) -> None:
    from reports.scaling_plot import plot_scaling_day

    path = plot_scaling_day(burst_day["_"], tmp_path / "scaling.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_scaler_parameters_carry_the_simulated_reactive_policy(burst_day) -> None:
    from capacity.explain import scaler_parameters
    from scaler.policy import ScalerPolicy

    # Given the policies compared over a day, When the scaler's parameters are emitted
    params = {p["ParameterKey"]: p["ParameterValue"] for p in scaler_parameters(burst_day["_"])}
    # Then the deployed scaler gets exactly the thresholds the simulator ran, and its alarm the same age
    simulated = burst_day["provisioned_reactive"]["scaler"]
    assert json.loads(params["ScalerPolicyJson"]) == simulated
    assert ScalerPolicy(**json.loads(params["ScalerPolicyJson"])).iterator_age_high_ms == float(
        params["IteratorAgeScaleOutMs"]
    )


def test_plan_cli_emits_scaler_parameters_and_draws_the_day(tmp_path, capsys) -> None:
    out, png = tmp_path / "params.json", tmp_path / "day.png"
    argv = ["plan", "--traffic", "diurnal:800", "--service-time", "40,0.3", "--emit-params", str(out)]
    assert main([*argv, "--plot", str(png)]) in (0, 1)
    names = [p["ParameterKey"] for p in json.loads(out.read_text())]
    assert {"ShardCount", "ScalerPolicyJson", "IteratorAgeScaleOutMs"} <= set(names)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_a_day_is_exit_2_naming_the_flag(tmp_path, capsys) -> None:
    code = main(["plan", "--rate", "800", "--service-time", "40,0.3", "--plot", str(tmp_path / "d.png")])
    assert code == 2
    assert "--plot" in capsys.readouterr().err


def test_profile_scaling_day_is_generated_at_the_design_rate() -> None:
    from cdrcap.traffic_spec import at_rate

    day = at_rate("diurnal,burst=8x10@18:00", 3_000.0)
    assert day.peak_rps == pytest.approx(8 * at_rate("diurnal", 3_000.0).peak_rps, rel=1e-3)
    assert at_rate("diurnal", 3_000.0).peak_rps == pytest.approx(3_000.0, rel=0.02)


def test_report_draws_the_scaling_day_only_when_the_run_has_one(burst_day, tmp_path) -> None:
    from matplotlib.figure import Figure

    from reports.plots import SCALING_DAY

    with_day = {"plan_details": {"scaling_policies": burst_day["_"]}}
    figure = Figure()
    SCALING_DAY.draw(figure, with_day, None)  # type: ignore[arg-type]
    assert len(figure.axes) == 2 and figure.axes[0].get_lines()
    assert "records/s" in SCALING_DAY.alt(with_day)  # type: ignore[arg-type]
    assert SCALING_DAY.alt({"plan_details": {}}) == "No day of traffic was simulated for this run."  # type: ignore[arg-type]
