"""Create or update a CloudFormation stack through a change set: create it, show it, execute it, wait.

Failures come back as DeployError naming the resources that failed and why, and the state the stack was
left in (rolled back, or still there untouched), so the user knows what to fix and whether to retry.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from capacity.quotas import CFN_TEMPLATE_BODY_MAX_BYTES
from infra.errors import InfraError
from infra.template import parameter_names, parse_template

NO_CHANGES_MARKERS = ("didn't contain changes", "No updates are to be performed")
# Our clock and CloudFormation's may differ; events this much older than our start still count.
_CLOCK_SKEW_ALLOWANCE = timedelta(seconds=60)
_SUCCESS = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})
_NOT_UPDATABLE = frozenset(
    {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED"}
)


class DeployError(InfraError):
    """The stack could not be deployed; the message names the failing resources and the fix."""


@dataclass(frozen=True)
class ResourceChange:
    """One line of a change set: what CloudFormation will do to one resource."""

    action: str  # Add | Modify | Remove | Import | Dynamic
    logical_id: str
    resource_type: str
    replacement: str  # True | False | Conditional | "" (for Add/Remove)

    def describe(self) -> str:
        replace = f"  (replacement: {self.replacement})" if self.replacement else ""
        return f"{self.action:<7} {self.logical_id:<28} {self.resource_type}{replace}"


@dataclass(frozen=True)
class DeployResult:
    stack_name: str
    status: str  # the final stack status, or "NO_CHANGES" / "CANCELLED"
    change_set_type: str  # CREATE | UPDATE
    changes: tuple[ResourceChange, ...]
    outputs: dict[str, str] = field(default_factory=dict)


# Called with the change set before it runs; return False to discard it instead of executing.
ConfirmChanges = Callable[[str, tuple[ResourceChange, ...]], bool]


def _always(_: str, __: tuple[ResourceChange, ...]) -> bool:
    return True


# Parameters whose value is a secret the deploy generates for a new stack when none is given.
GENERATED_SECRETS = frozenset({"FraudTokenKey"})


def parameters_for(
    template_parameters: list[str],
    requested: Mapping[str, str],
    existing_stack_parameters: set[str],
) -> list[dict[str, Any]]:
    """Explicit values win; on an update, any other parameter keeps the stack's previous value."""
    unknown = sorted(set(requested) - set(template_parameters))
    if unknown:
        raise DeployError(
            f"parameter(s) {', '.join(unknown)} are not in the template; "
            f"valid names: {', '.join(sorted(template_parameters))}."
        )
    result: list[dict[str, Any]] = []
    for name in sorted(template_parameters):
        if name in GENERATED_SECRETS and name not in requested and name not in existing_stack_parameters:
            # A new stack gets a random secret; updates keep the previous one (UsePreviousValue below).
            result.append({"ParameterKey": name, "ParameterValue": secrets.token_hex(32)})
        elif name in requested:
            result.append({"ParameterKey": name, "ParameterValue": str(requested[name])})
        elif name in existing_stack_parameters:
            result.append({"ParameterKey": name, "UsePreviousValue": True})
    return result


class StackDeployer:
    """Deploys one template to one stack with a boto3 CloudFormation client (AWS or the emulator)."""

    def __init__(
        self,
        cloudformation: Any,
        *,
        poll_interval_s: float = 2.0,
        timeout_s: float = 1800.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._cfn = cloudformation
        self._poll_interval_s = poll_interval_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._sleep = sleep

    def deploy(
        self,
        stack_name: str,
        template_body: str,
        parameters: Mapping[str, str],
        *,
        confirm: ConfirmChanges = _always,
        tags: Mapping[str, str] | None = None,
    ) -> DeployResult:
        # Larger templates need TemplateURL (an S3 upload), which this deployer does not do.
        if len(template_body.encode()) > CFN_TEMPLATE_BODY_MAX_BYTES:
            raise DeployError(
                f"the template is {len(template_body.encode()):,} bytes, above CloudFormation's inline "
                f"limit of {CFN_TEMPLATE_BODY_MAX_BYTES:,}; shorten it (descriptions, dashboard) or deploy "
                "it from S3."
            )
        # Read offline: the emulator's ValidateTemplate rejects resource types it lacks even when a
        # condition leaves them out.
        template_parameters = parameter_names(parse_template(template_body, source=stack_name))
        existing = self._describe(stack_name)
        if existing is not None:
            self._check_updatable(stack_name, existing["StackStatus"])
        change_set_type = "UPDATE" if existing is not None else "CREATE"
        previous = {item["ParameterKey"] for item in (existing or {}).get("Parameters", [])}
        change_set_name = f"cdrcap-{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
        try:
            response = self._cfn.create_change_set(
                StackName=stack_name,
                ChangeSetName=change_set_name,
                ChangeSetType=change_set_type,
                Parameters=parameters_for(template_parameters, parameters, previous),
                Capabilities=["CAPABILITY_IAM"],
                Tags=[{"Key": key, "Value": value} for key, value in sorted((tags or {}).items())],
                TemplateBody=template_body,
            )
        except ClientError as error:
            raise DeployError(
                f"CloudFormation refused the change set for {stack_name}: {_message(error)}"
            ) from error
        change_set_id = response["Id"]
        described = self._wait_for_change_set(change_set_id)
        if described["Status"] == "FAILED":
            reason = described.get("StatusReason", "")
            self._discard(change_set_id, stack_name, change_set_type)
            if any(marker in reason for marker in NO_CHANGES_MARKERS):
                return DeployResult(stack_name, "NO_CHANGES", change_set_type, (), self.outputs(stack_name))
            raise DeployError(f"the change set for {stack_name} failed: {reason}")
        changes = tuple(self._changes(change_set_id))
        if not confirm(change_set_type, changes):
            self._discard(change_set_id, stack_name, change_set_type)
            return DeployResult(stack_name, "CANCELLED", change_set_type, changes)
        started = datetime.now(UTC)
        self._cfn.execute_change_set(ChangeSetName=change_set_id)
        status = self._wait_for_stack(stack_name)
        if status not in _SUCCESS:
            raise DeployError(self._failure_message(stack_name, status, started))
        return DeployResult(stack_name, status, change_set_type, changes, self.outputs(stack_name))

    def current_parameters(self, stack_name: str) -> dict[str, str]:
        """The deployed stack's parameter values ({} when there is no stack yet)."""
        stack = self._describe(stack_name) or {}
        return {item["ParameterKey"]: item.get("ParameterValue", "") for item in stack.get("Parameters", [])}

    def outputs(self, stack_name: str) -> dict[str, str]:
        stack = self._describe(stack_name) or {}
        return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}

    def _describe(self, stack_name: str) -> dict[str, Any] | None:
        try:
            stacks = self._cfn.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            if "does not exist" in _message(error):
                return None
            raise DeployError(f"cannot read stack {stack_name}: {_message(error)}") from error
        stack: dict[str, Any] = stacks[0]
        # A CREATE change set that was never executed leaves a REVIEW_IN_PROGRESS shell: treat as absent.
        return None if stack["StackStatus"] == "REVIEW_IN_PROGRESS" else stack

    @staticmethod
    def _check_updatable(stack_name: str, status: str) -> None:
        if status.endswith("_IN_PROGRESS"):
            raise DeployError(
                f"stack {stack_name} is {status}: another operation is running; wait for it to finish."
            )
        if status in _NOT_UPDATABLE:
            raise DeployError(
                f"stack {stack_name} is {status} and cannot be updated; delete it "
                f"(`aws cloudformation delete-stack --stack-name {stack_name}`) and deploy again."
            )

    def _deadline_passed(self, started_s: float) -> bool:
        return self._clock() - started_s > self._timeout_s

    def _wait_for_change_set(self, change_set_id: str) -> dict[str, Any]:
        started_s = self._clock()
        while True:
            described: dict[str, Any] = self._cfn.describe_change_set(ChangeSetName=change_set_id)
            if described["Status"] in {"CREATE_COMPLETE", "FAILED"}:
                return described
            if self._deadline_passed(started_s):
                raise DeployError(f"change set {change_set_id} not ready after {self._timeout_s:.0f} s.")
            self._sleep(self._poll_interval_s)

    def _changes(self, change_set_id: str) -> Iterator[ResourceChange]:
        token: str | None = None
        while True:
            kwargs = {"ChangeSetName": change_set_id, **({"NextToken": token} if token else {})}
            page = self._cfn.describe_change_set(**kwargs)
            for change in page.get("Changes", []):
                resource = change.get("ResourceChange", {})
                yield ResourceChange(
                    action=resource.get("Action", "?"),
                    logical_id=resource.get("LogicalResourceId", "?"),
                    resource_type=resource.get("ResourceType", "?"),
                    replacement=resource.get("Replacement", "") if resource.get("Action") == "Modify" else "",
                )
            token = page.get("NextToken")
            if not token:
                return

    def _discard(self, change_set_id: str, stack_name: str, change_set_type: str) -> None:
        self._cfn.delete_change_set(ChangeSetName=change_set_id)
        if change_set_type == "CREATE":
            # The empty REVIEW_IN_PROGRESS stack a CREATE change set leaves behind would block the next try.
            self._cfn.delete_stack(StackName=stack_name)

    def _wait_for_stack(self, stack_name: str) -> str:
        started_s = self._clock()
        while True:
            status: str = self._cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
            if not status.endswith("_IN_PROGRESS"):
                return status
            if self._deadline_passed(started_s):
                raise DeployError(
                    f"stack {stack_name} still {status} after {self._timeout_s:.0f} s; follow it in the "
                    "CloudFormation console or with `aws cloudformation describe-stack-events`."
                )
            self._sleep(self._poll_interval_s)

    def _failure_message(self, stack_name: str, status: str, since: datetime) -> str:
        failures = []
        for event in self._events_since(stack_name, since):
            if event["ResourceStatus"].endswith("_FAILED") and event.get("ResourceStatusReason"):
                failures.append(f"  {event['LogicalResourceId']}: {event['ResourceStatusReason']}")
        outcome = {
            "ROLLBACK_COMPLETE": "the new stack was rolled back; delete it before deploying again",
            "UPDATE_ROLLBACK_COMPLETE": "the update was rolled back; the stack runs its previous version",
        }.get(status, "the stack needs attention in the CloudFormation console")
        detail = "\n".join(reversed(failures)) or "  (no resource reported a reason)"
        return f"deploying {stack_name} ended in {status}: {outcome}. Failed resources:\n{detail}"

    def _events_since(self, stack_name: str, since: datetime) -> Iterator[dict[str, Any]]:
        """This operation's events, newest first: back to the stack's own start event (or `since`)."""
        paginator = self._cfn.get_paginator("describe_stack_events")
        for page in paginator.paginate(StackName=stack_name):
            for event in page["StackEvents"]:
                if event["Timestamp"] < since - _CLOCK_SKEW_ALLOWANCE:
                    return
                yield event
                is_start = event["ResourceType"] == "AWS::CloudFormation::Stack" and event[
                    "ResourceStatus"
                ] in {"CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"}
                if is_start and event.get("ResourceStatusReason") == "User Initiated":
                    return


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", error))
