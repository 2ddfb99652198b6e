"""infra/deploy.StackDeployer paths the emulator cannot produce: busy stacks, stacks that never settle."""

from __future__ import annotations

from typing import Any

import pytest

from infra.deploy import DeployError, StackDeployer
from infra.template import PIPELINE_TEMPLATE


class FakeCloudFormation:
    """Just enough of the CloudFormation client: a stack whose status is fixed by the test."""

    def __init__(self, status: str) -> None:
        self.status = status
        self.change_sets: list[dict[str, Any]] = []

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        return {"Stacks": [{"StackName": StackName, "StackStatus": self.status, "Parameters": []}]}

    def create_change_set(self, **kwargs: Any) -> dict[str, str]:
        self.change_sets.append(kwargs)
        return {"Id": "cs-1"}

    def describe_change_set(self, **_: Any) -> dict[str, Any]:
        return {"Status": "CREATE_COMPLETE", "Changes": []}

    def delete_change_set(self, **_: Any) -> None:
        pass

    def execute_change_set(self, **_: Any) -> None:
        self.status = "UPDATE_IN_PROGRESS"  # and it never finishes


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        self.now_s += seconds


@pytest.mark.parametrize(
    "status", ["UPDATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS"]
)
def test_busy_stack_is_refused_without_a_change_set(status: str) -> None:
    cfn = FakeCloudFormation(status)
    with pytest.raises(DeployError, match=f"is {status}: another operation is running"):
        StackDeployer(cfn).deploy("s", PIPELINE_TEMPLATE.read_text(), {})
    assert cfn.change_sets == []


def test_stack_that_never_settles_times_out_with_where_to_look() -> None:
    cfn, clock = FakeCloudFormation("UPDATE_COMPLETE"), FakeClock()
    deployer = StackDeployer(cfn, poll_interval_s=5, timeout_s=60, clock=clock, sleep=clock.sleep)
    with pytest.raises(DeployError, match=r"still UPDATE_IN_PROGRESS after 60 s.*describe-stack-events"):
        deployer.deploy("s", PIPELINE_TEMPLATE.read_text(), {"MemorySize": "1024"})
    assert 60 < clock.now_s <= 70


def test_update_sends_previous_values_for_parameters_not_given() -> None:
    cfn = FakeCloudFormation("UPDATE_COMPLETE")
    cfn.describe_stacks = lambda StackName: {  # type: ignore[method-assign]
        "Stacks": [{"StackStatus": "UPDATE_COMPLETE", "Parameters": [{"ParameterKey": "BatchSize"}]}]
    }
    StackDeployer(cfn).deploy(
        "s", PIPELINE_TEMPLATE.read_text(), {"MemorySize": "1024"}, confirm=lambda _k, _c: False
    )
    sent = cfn.change_sets[0]["Parameters"]
    assert {"ParameterKey": "BatchSize", "UsePreviousValue": True} in sent
    assert {"ParameterKey": "MemorySize", "ParameterValue": "1024"} in sent
    assert cfn.change_sets[0]["ChangeSetType"] == "UPDATE"


def test_parameters_split_between_the_pipeline_and_the_scaler_stacks() -> None:
    from cdrcap.commands.deploy import split_parameters

    given = {"ResourcePrefix": "p", "ShardCount": "4", "ScalerPolicyJson": "{}", "CodeS3Key": "k"}
    given["Typo"] = "1"
    pipeline, scaler = split_parameters(given, PIPELINE_TEMPLATE)
    # The scaler gets only what the pipeline template does not declare (and the shared prefix): never the
    # pipeline's code key; an unknown name stays with the pipeline, whose deploy names it
    assert pipeline == {"ResourcePrefix": "p", "ShardCount": "4", "CodeS3Key": "k", "Typo": "1"}
    assert scaler == {"ResourcePrefix": "p", "ScalerPolicyJson": "{}"}
