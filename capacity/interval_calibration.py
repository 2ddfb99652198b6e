"""The model's error beyond its replications, measured: a conformal margin for the 80% prediction intervals.

The replications (capacity/intervals.py) carry the randomness the simulator knows of: poller phases, each
invocation's deviation from the fit, the arrivals. They do not carry what the model lacks (a host stall
the step's factor does not take out, the fit's own error, an empty poll the simulated poller does not make).
Validation runs measured how far outside their intervals the measurements fell, so the intervals are widened
by that measured error, the way conformalized quantile regression does (Romano, Patterson, Candes 2019):

- each recorded validation point scores s = max(ln(low / measured), ln(measured / high)): how far outside
  its replications' interval, in log terms, the measurement was (negative: inside);
- the margin q is the ceil((n + 1) x 0.8)-th smallest of the n scores (never below 0: nothing is taken
  away from the replications' spread; infinite with too few points to reach that rank);
- a prediction's interval is [low x e^-q, high x e^q]: if new measurements are exchangeable with the
  recorded ones, at least 80% of them fall inside.

The points live in interval_calibration.json beside this module, one entry per validation run with its
provenance. `bench_model_validation` scores a fresh run against a margin computed WITHOUT that run's points
(out of sample), and `--calibrate` adds the run's points to the file.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from capacity.errors import CapacityError

CALIBRATION_FILE = Path(__file__).with_name("interval_calibration.json")
INTERVAL_LEVEL = 0.8  # every prediction interval's level (capacity/intervals.py)
VALUE_FLOOR_MS = 1.0  # a ~0 ms p99 (a caught-up lane's age) scored against 1 ms, as the APE's floor


@dataclass(frozen=True)
class CalibrationPoint:
    """One validation measurement against its prediction's replication interval (no margin applied)."""

    run: str  # the validation run it came from
    configuration: str
    step: int
    metric: str  # iterator_age | e2e
    central_ms: float
    low_ms: float
    high_ms: float
    measured_ms: float

    @property
    def score(self) -> float:
        """ln of how far outside [low, high] the measurement fell (negative when inside)."""
        low, high, value = (max(v, VALUE_FLOOR_MS) for v in (self.low_ms, self.high_ms, self.measured_ms))
        return max(math.log(low / value), math.log(value / high))


@dataclass(frozen=True)
class Margin:
    """The calibrated margin (ln units) and what it was computed from."""

    log_margin: float
    points: int
    runs: tuple[str, ...]

    @property
    def factor(self) -> float:
        """e^q: the interval's high end is multiplied by it, its low end divided."""
        return math.exp(self.log_margin)

    def describe(self) -> str:
        if not self.points:
            return "no calibration points: the replications' spread alone"
        return (
            f"widened by x{self.factor:.3f} each side (conformal margin from {self.points} validation "
            f"points of {len(self.runs)} run{'s' if len(self.runs) != 1 else ''})"
        )


NO_MARGIN = Margin(0.0, 0, ())


def conformal_margin(points: Sequence[CalibrationPoint], level: float = INTERVAL_LEVEL) -> Margin:
    """The split-conformal margin of the points at `level` (module docstring); 0 without points."""
    if not points:
        return NO_MARGIN
    scores = sorted(point.score for point in points)
    rank = math.ceil((len(scores) + 1) * level)  # 1-based
    log_margin = math.inf if rank > len(scores) else max(scores[rank - 1], 0.0)
    return Margin(log_margin, len(scores), tuple(dict.fromkeys(point.run for point in points)))


def load_points(path: Path = CALIBRATION_FILE) -> tuple[CalibrationPoint, ...]:
    """Every recorded point of the file (none when it does not exist)."""
    if not path.exists():
        return ()
    try:
        runs = json.loads(path.read_text())["runs"]
        return tuple(CalibrationPoint(run=run["run"], **point) for run in runs for point in run["points"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CapacityError(
            f"{path} is not a calibration file ({exc}): restore it from git or re-record it with "
            "`python -m tests.benchmarks.bench_model_validation --calibrate`"
        ) from exc


@functools.cache
def model_margin() -> Margin:
    """The margin every prediction interval gets: from all recorded points."""
    return conformal_margin(load_points())


def margin_without(run: str, path: Path = CALIBRATION_FILE) -> Margin:
    """The margin from every recorded point except `run`'s: for scoring that run out of sample."""
    return conformal_margin([point for point in load_points(path) if point.run != run])


def widen(low: float, high: float, margin: Margin) -> tuple[float, float]:
    """[low, high] widened by the margin (unbounded ends stay so)."""
    if not margin.log_margin:
        return low, high
    return low / margin.factor, high * margin.factor


def add_run(
    run: str, provenance: str, points: Iterable[CalibrationPoint], path: Path = CALIBRATION_FILE
) -> int:
    """Record a validation run's points (replacing an earlier record of the same run); their count."""
    records: list[dict[str, Any]] = json.loads(path.read_text())["runs"] if path.exists() else []
    records = [record for record in records if record["run"] != run]
    fields = [{k: v for k, v in asdict(point).items() if k != "run"} for point in points if point.run == run]
    records.append({"run": run, "provenance": provenance, "points": fields})
    path.write_text(json.dumps({"runs": records}, indent=1) + "\n")
    model_margin.cache_clear()
    return len(fields)
