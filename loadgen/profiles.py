"""Load profiles: the target records/s as a function of elapsed time (independent of user count).

The Locust shapes (loadgen/shapes.py) and the users' pacing read the same profile, so the rate is set by
the profile and users only share it: an open model.
"""

from __future__ import annotations

from dataclasses import dataclass

from loadgen.errors import LoadConfigError
from loadgen.synth.config import DIURNAL_HOURLY_WEIGHTS

SHAPES = ("steady", "step", "ramp", "diurnal", "burst", "soak")
SOAK_STEP_S = 600.0  # a soak reports one step per 10 minutes so drift over time shows up per step
BURST_BASELINE = 0.25  # burst: share of the peak rate between bursts
BURST_DUTY = 0.2  # burst: share of each period spent at the peak


@dataclass(frozen=True)
class Step:
    step: int
    start_s: float
    end_s: float
    rate_rps: float


@dataclass(frozen=True)
class RateProfile:
    shape: str
    rate_rps: float  # the peak (step: the last step's) records/s
    duration_s: float
    steps: int = 4  # step: number of equal steps; burst: number of bursts

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise LoadConfigError(f"shape {self.shape!r} unknown; choose one of {', '.join(SHAPES)}")
        if self.rate_rps <= 0 or self.duration_s <= 0 or self.steps < 1:
            raise LoadConfigError(
                f"rate ({self.rate_rps}), duration ({self.duration_s}) and steps ({self.steps}) must be > 0"
            )

    def rate_at(self, elapsed_s: float) -> float:
        """Target records/s at `elapsed_s` after the start; 0 once the profile is over."""
        if elapsed_s < 0 or elapsed_s >= self.duration_s:
            return 0.0
        fraction = elapsed_s / self.duration_s
        if self.shape == "step":
            return self.rate_rps * (self.step_at(elapsed_s) + 1) / self.steps
        if self.shape == "ramp":
            return self.rate_rps * max(fraction, 0.02)
        if self.shape == "diurnal":
            hour = 24.0 * fraction
            low = int(hour) % 24
            weight = DIURNAL_HOURLY_WEIGHTS[low] + (hour - int(hour)) * (
                DIURNAL_HOURLY_WEIGHTS[(low + 1) % 24] - DIURNAL_HOURLY_WEIGHTS[low]
            )
            return self.rate_rps * weight / max(DIURNAL_HOURLY_WEIGHTS)
        if self.shape == "burst":
            period_s = self.duration_s / self.steps
            in_burst = (elapsed_s % period_s) >= period_s * (1.0 - BURST_DUTY)
            return self.rate_rps if in_burst else self.rate_rps * BURST_BASELINE
        return self.rate_rps  # steady, soak

    def step_at(self, elapsed_s: float) -> int:
        if self.shape == "step":
            return min(int(elapsed_s * self.steps / self.duration_s), self.steps - 1)
        if self.shape == "soak":
            return int(elapsed_s // SOAK_STEP_S)
        if self.shape == "burst":
            return min(int(elapsed_s * self.steps / self.duration_s), self.steps - 1)
        return 0

    def step_table(self) -> list[Step]:
        """The steps with their bounds and nominal rate (the orchestrator compares per step)."""
        if self.shape == "step":
            width = self.duration_s / self.steps
            return [
                Step(i, i * width, (i + 1) * width, self.rate_rps * (i + 1) / self.steps)
                for i in range(self.steps)
            ]
        if self.shape == "soak":
            count = max(1, int(-(-self.duration_s // SOAK_STEP_S)))
            return [
                Step(i, i * SOAK_STEP_S, min((i + 1) * SOAK_STEP_S, self.duration_s), self.rate_rps)
                for i in range(count)
            ]
        if self.shape == "burst":
            width = self.duration_s / self.steps
            return [Step(i, i * width, (i + 1) * width, self.rate_rps) for i in range(self.steps)]
        return [Step(0, 0.0, self.duration_s, self.expected_records() / self.duration_s)]

    def expected_records(self, resolution_s: float = 0.5) -> float:
        """Records the profile asks for in total (numerical integral)."""
        ticks = int(self.duration_s / resolution_s) + 1
        return sum(self.rate_at(i * resolution_s) * resolution_s for i in range(ticks))
