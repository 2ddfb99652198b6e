"""A day of traffic, the input of the scaling comparison: records per minute (or per second) over time.

Read from a plain CSV `timestamp,records` (ISO-8601 or epoch seconds), a CloudWatch export of the stream's
`IncomingRecords` (Timestamp plus a column whose name holds IncomingRecords; any row order), or a run's
`data/load_seconds.csv` (its `offered` column: what the producers asked the stream to take). Every
problem is an error that names the line: a missing column, an unparseable timestamp, a negative or
non-numeric count, a duplicate timestamp, a gap or a step that is neither a second nor a minute.
"""

from __future__ import annotations

import csv
import itertools
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from capacity.errors import CapacityError

MINUTE_S = 60
ALLOWED_STEPS_S = (1, MINUTE_S)
TIME_COLUMNS = ("timestamp", "time", "epoch_s", "datetime")
COUNT_COLUMNS = ("records", "offered", "incomingrecords", "count", "sum")
MIN_ROWS = 2


@dataclass(frozen=True)
class TrafficDay:
    """Records per step, one element per step, from `start_epoch_s`; `source` says where they came from."""

    start_epoch_s: float
    step_s: int
    records: np.ndarray
    source: str

    @property
    def duration_s(self) -> float:
        return float(self.records.size * self.step_s)

    def per_minute(self) -> np.ndarray:
        """Records in each whole minute (a per-second day summed; a trailing partial minute is kept)."""
        if self.step_s == MINUTE_S:
            return self.records.astype(float)
        per = MINUTE_S // self.step_s
        padded = np.zeros(math.ceil(self.records.size / per) * per)
        padded[: self.records.size] = self.records
        return padded.reshape(-1, per).sum(axis=1)

    def rates_per_minute_rps(self) -> np.ndarray:
        return self.per_minute() / MINUTE_S

    @property
    def peak_rps(self) -> float:
        """The busiest minute's mean rate, the rate the static plan is sized for."""
        return float(self.rates_per_minute_rps().max())

    @property
    def mean_rps(self) -> float:
        return float(self.records.sum() / self.duration_s)

    def describe(self) -> dict[str, object]:
        return {
            "source": self.source,
            "start": datetime.fromtimestamp(self.start_epoch_s, UTC).isoformat(),
            "step_s": self.step_s,
            "minutes": int(self.per_minute().size),
            "records": int(self.records.sum()),
            "peak_rps": round(self.peak_rps, 1),
            "mean_rps": round(self.mean_rps, 1),
        }


def from_rates(rates_rps: np.ndarray, step_s: int, source: str, start_epoch_s: float = 0.0) -> TrafficDay:
    """A day from rates per step (a generated shape); counts are rates x step, rounded."""
    rates = np.asarray(rates_rps, dtype=float)
    if rates.size < MIN_ROWS or not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise CapacityError(f"{source}: rates must be >= 0, at least {MIN_ROWS} steps")
    return TrafficDay(start_epoch_s, step_s, np.round(rates * step_s), source)


def parse_timestamp(text: str) -> float:
    """Epoch seconds from epoch seconds or an ISO-8601 time (a time without a zone is UTC)."""
    value = text.strip()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise ValueError(
            f"{value!r} is neither epoch seconds nor ISO-8601 (e.g. 2026-12-31T23:59:00Z)"
        ) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _columns(header: list[str], path: Path) -> tuple[int, int]:
    names = [name.strip().lower() for name in header]
    time_index = next((i for i, name in enumerate(names) if name in TIME_COLUMNS), None)
    count_index = next(
        (i for i, name in enumerate(names) if name in COUNT_COLUMNS or "incomingrecords" in name), None
    )
    if time_index is None or count_index is None:
        raise CapacityError(
            f"{path}, line 1: columns {header} are not a traffic day; expected `timestamp,records` (or a "
            "CloudWatch IncomingRecords export with Timestamp, or a run's load_seconds.csv with epoch_s and "
            "offered)"
        )
    return time_index, count_index


def read(path: Path) -> TrafficDay:
    """Read and validate a traffic file (see the module docstring for the formats)."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError as error:
        raise CapacityError(f"cannot read traffic file {path}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise CapacityError(f"traffic file {path} is not UTF-8 text ({error.reason})") from error
    if not rows:
        raise CapacityError(f"traffic file {path} is empty; expected a header `timestamp,records`")
    time_index, count_index = _columns(rows[0], path)
    points: list[tuple[float, float, int]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) <= max(time_index, count_index):
            raise CapacityError(f"{path}, line {line}: {len(row)} columns, expected {len(rows[0])}")
        try:
            at = parse_timestamp(row[time_index])
        except ValueError as error:
            raise CapacityError(f"{path}, line {line}: timestamp {error}") from error
        try:
            count = float(row[count_index])
        except ValueError as error:
            raise CapacityError(
                f"{path}, line {line}: records {row[count_index]!r} is not a number"
            ) from error
        if not math.isfinite(count) or count < 0:
            raise CapacityError(f"{path}, line {line}: records {row[count_index]} must be a count >= 0")
        points.append((at, count, line))
    if len(points) < MIN_ROWS:
        raise CapacityError(f"{path}: {len(points)} data rows; a traffic day needs at least {MIN_ROWS}")
    points.sort()  # CloudWatch returns newest first
    return TrafficDay(points[0][0], _step(points, path), np.array([p[1] for p in points]), f"file {path}")


def _step(points: list[tuple[float, float, int]], path: Path) -> int:
    """The uniform step of sorted points; a duplicate, a gap or an irregular step names its line."""
    step = points[1][0] - points[0][0]
    if step not in ALLOWED_STEPS_S:
        raise CapacityError(
            f"{path}, line {points[1][2]}: {step:g} s after line {points[0][2]}; rows must be one per second "
            "or one per minute"
        )
    for (before, _, before_line), (at, _, line) in itertools.pairwise(points):
        if at == before:
            raise CapacityError(f"{path}, line {line}: duplicate timestamp (also on line {before_line})")
        if at - before != step:
            missing = (at - before) / step - 1
            kind = "gap" if at - before > step else "irregular step"
            raise CapacityError(
                f"{path}, line {line}: {kind} of {at - before:g} s after line {before_line} "
                f"({missing:g} missing {'seconds' if step == 1 else 'minutes'}); fill quiet periods with 0"
            )
    return int(step)
