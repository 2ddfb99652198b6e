"""Whether a step profile's steps are long enough for the p99s the run reports (capacity/measurability.py):
the warnings `cdrcap run` prints before the load, and the table docs/config.md gives for the shipped
profiles."""

from __future__ import annotations

from capacity.measurability import MIN_INVOCATIONS_FOR_P99, StepPlan, step_plans
from cdrcap.config import Profile


def profile_steps(profile: Profile) -> list[StepPlan]:
    """Each step of a step profile with the invocations it can be expected to give; [] for other shapes
    (their steps are not load levels held for step_duration_s)."""
    if profile.shape != "step":
        return []
    return step_plans(
        profile.steps,
        profile.step_duration_s,
        profile.shards,
        profile.parallelization_factor,
        profile.batch_size,
        profile.batching_window_s,
    )


def short_step_warnings(profile: Profile) -> list[str]:
    """One warning per step expected to give fewer invocations than a p99 needs."""
    return [
        f"profile {profile.name} step {plan.step} ({plan.rate_rps:,.0f} records/s for "
        f"{plan.duration_s:,.0f} s) gives ~{plan.expected_invocations:,.0f} invocations at batch "
        f"{profile.batch_size}, window {profile.batching_window_s:g} s, {profile.shards} shard(s) x PF "
        f"{profile.parallelization_factor}; a p99 needs >= {MIN_INVOCATIONS_FOR_P99}, so its p99s will be "
        f"close to its maximum (a step of >= {plan.min_duration_s:,.0f} s would do)"
        for plan in profile_steps(profile)
        if not plan.measurable
    ]
