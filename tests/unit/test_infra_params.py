"""infra/params.py and infra/deploy.parameters_for: what `cdrcap deploy --params/--param` sends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdrcap.cli import main
from infra.deploy import DeployError, parameters_for
from infra.params import (
    RECOMMENDATION_PARAMETERS,
    ParamsError,
    load_params_file,
    params_from_recommendation,
    parse_assignments,
    parse_params,
)
from infra.template import PIPELINE_TEMPLATE, load_template


@pytest.mark.parametrize(
    "document",
    [
        {"Parameters": {"ShardCount": 4, "EnableEventSourceMapping": False}},
        {"ShardCount": 4, "EnableEventSourceMapping": False},
        [
            {"ParameterKey": "ShardCount", "ParameterValue": "4"},
            {"ParameterKey": "EnableEventSourceMapping", "ParameterValue": "false"},
        ],
    ],
)
def test_every_accepted_shape_gives_cloudformation_strings(document: object) -> None:
    assert parse_params(document) == {"ShardCount": "4", "EnableEventSourceMapping": "false"}


def test_nested_value_is_refused_with_its_name() -> None:
    with pytest.raises(ParamsError, match="BatchSize must be a string, number or boolean"):
        parse_params({"BatchSize": [1, 2]})


def test_missing_file_points_at_plan_emit_params(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="cdrcap plan --emit-params"):
        load_params_file(tmp_path / "absent.json")


def test_file_that_is_not_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{\n  "ShardCount": 4,\n}')
    with pytest.raises(ParamsError, match="line 3"):
        load_params_file(path)


def test_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"Parameters": {"BatchSize": 250, "StreamMode": "ON_DEMAND"}}))
    assert load_params_file(path) == {"BatchSize": "250", "StreamMode": "ON_DEMAND"}


def test_assignments_split_on_the_first_equals() -> None:
    assert parse_assignments(["A=1", "B=x=y"]) == {"A": "1", "B": "x=y"}
    with pytest.raises(ParamsError, match="KEY=VALUE"):
        parse_assignments(["BatchSize"])


def test_update_keeps_previous_values_of_parameters_not_given() -> None:
    sent = parameters_for(
        ["BatchSize", "MemorySize", "NewOne"], {"MemorySize": "1024"}, {"BatchSize", "MemorySize"}
    )
    assert sent == [
        {"ParameterKey": "BatchSize", "UsePreviousValue": True},
        {"ParameterKey": "MemorySize", "ParameterValue": "1024"},
    ]


def test_unknown_parameter_lists_the_valid_names() -> None:
    with pytest.raises(DeployError, match=r"BatchSzie.*valid names: BatchSize"):
        parameters_for(["BatchSize"], {"BatchSzie": "1"}, set())


def test_recommendation_maps_onto_the_template_parameters() -> None:
    recommendation = {
        "shards": 6,
        "parallelization_factor": 2,
        "batch_size": 500,
        "batching_window_s": 0.5,
        "memory_mb": 1024,
        "architecture": "arm64",
        "stream_mode": "on_demand",
        "consumer_mode": "EFO",
        "monthly_cost_usd": 123.4,
    }
    assert params_from_recommendation(recommendation) == {
        "ShardCount": "6",
        "ParallelizationFactor": "2",
        "BatchSize": "500",
        "MaximumBatchingWindowInSeconds": "0",
        "MemorySize": "1024",
        "Architecture": "arm64",
        "StreamMode": "ON_DEMAND",
        "ConsumerMode": "efo",
    }


def test_recommendation_parameters_exist_in_the_template() -> None:
    template = load_template(PIPELINE_TEMPLATE)
    assert set(RECOMMENDATION_PARAMETERS.values()) <= set(template["Parameters"])


def test_deploy_refuses_a_local_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "--target", "local", "--yes"]) == 2
    assert "cdrcap up" in capsys.readouterr().err
