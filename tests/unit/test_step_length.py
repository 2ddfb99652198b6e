"""How long a step must be for its p99s, computed for every shipped profile (docs/config.md's table)."""

from pathlib import Path

import pytest

from cdrcap.config import Profile, load_config
from cdrcap.step_length import profile_steps, short_step_warnings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shipped() -> dict[str, Profile]:
    return dict(load_config(ROOT / "pyproject.toml").profiles)


def test_every_shipped_step_profile_is_checked(shipped: dict[str, Profile]) -> None:
    assert {name for name, profile in shipped.items() if profile_steps(profile)} == set(shipped)


def test_the_release_profile_gives_every_step_enough_invocations(shipped: dict[str, Profile]) -> None:
    # 2 shards, batch 500, 1 s window, 120 s steps of 500-2,000 records/s: 200-480 invocations
    steps = profile_steps(shipped["release"])
    assert [round(s.expected_invocations) for s in steps] == [200, 240, 360, 480]
    assert short_step_warnings(shipped["release"]) == []


def test_the_demo_steps_are_long_enough_and_the_ci_steps_too_short_for_a_p99(
    shipped: dict[str, Profile],
) -> None:
    # The demo's 60 s steps on 2 lanes with a 1 s window give ~100 invocations (45 s gave 75; `make demo`
    # took 293 s with them, 2026-12-03); the CI run's 30 s steps on one lane ~25 (120 s would do): the e2e
    # tests run it twice, so it stays short and its report marks its p99s.
    demo, ci = profile_steps(shipped["demo"]), profile_steps(shipped["ci"])
    assert {round(s.expected_invocations) for s in demo} == {100}
    assert {round(s.min_duration_s) for s in demo} == {60}
    assert short_step_warnings(shipped["demo"]) == []
    assert {round(s.expected_invocations) for s in ci} == {25}
    assert {round(s.min_duration_s) for s in ci} == {120}
    warnings = short_step_warnings(shipped["ci"])
    assert len(warnings) == 2
    assert warnings[0].startswith("profile ci step 0 (90 records/s for 30 s) gives ~25 invocations")
    assert warnings[0].endswith("(a step of >= 120 s would do)")


def test_other_shapes_are_not_checked() -> None:
    assert profile_steps(Profile(name="r", steps=(100.0,), shape="ramp")) == []
