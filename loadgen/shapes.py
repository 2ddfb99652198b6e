"""Locust LoadTestShape classes. They keep a constant user count and end the test when the profile ends;
the RATE (records/s) follows the profile inside the users' pacing, so it does not depend on user count."""

from __future__ import annotations

from typing import Any, ClassVar

from locust import LoadTestShape
from locust.runners import MasterRunner

from loadgen.options import LoadOptions

# The users' schedule ends `duration` after the start; the shape waits this much longer so their last
# PutRecords calls (and retries) finish and are counted instead of being cut off by the stop.
STOP_GRACE_S = 4.0


class CdrShape(LoadTestShape):
    """The shape named by --cdr-shape (steady, step, ramp, diurnal, burst, soak)."""

    fixed_shape: ClassVar[str | None] = None

    def tick(self) -> tuple[int, float] | None:
        options = self._options()
        if self.get_run_time() >= options.duration_s + STOP_GRACE_S:
            if isinstance(self.runner, MasterRunner):
                # A headless master would otherwise just `quit()`: without a stop message, workers die
                # before their last measurements reach the master. stop() waits until they report.
                self.runner.stop()
            return None
        # Users start at once: the rate ramps inside the pacing, not by spawning users.
        return options.users, float(max(options.users, 1))

    def _options(self) -> LoadOptions:
        assert self.runner is not None
        parsed: Any = self.runner.environment.parsed_options
        options = LoadOptions.from_parsed(parsed)
        if self.fixed_shape and options.shape != self.fixed_shape:
            parsed.cdr_shape = self.fixed_shape
            options = LoadOptions.from_parsed(parsed)
        return options


class SteadyShape(CdrShape):
    fixed_shape = "steady"


class StepShape(CdrShape):
    fixed_shape = "step"


class RampShape(CdrShape):
    fixed_shape = "ramp"


class DiurnalShape(CdrShape):
    """A day compressed into --cdr-duration seconds, following the diurnal profile."""

    fixed_shape = "diurnal"


class BurstShape(CdrShape):
    fixed_shape = "burst"


class SoakShape(CdrShape):
    fixed_shape = "soak"
