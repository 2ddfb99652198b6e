"""`cdrcap plan --traffic`: a file (capacity/traffic.py reads it) or a generated day from the load
generator's shapes: `diurnal:PEAK` (loadgen's diurnal profile over 24 h, PEAK records/s at the busy hour),
`burst:PEAK` (its burst shape), each with optional `,burst=FACTORxMINUTES@HH:MM` storms on top (FACTOR x
the day's peak, e.g. New Year's midnight SMS: `diurnal:2000,burst=8x10@00:00`)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from capacity import traffic
from capacity.traffic import TrafficDay
from cdrcap.errors import CdrcapError
from loadgen.errors import LoadConfigError
from loadgen.profiles import RateProfile

DAY_S = 86_400
MINUTE_S = 60
GENERATED_SHAPES = ("diurnal", "burst")
BURST = re.compile(r"^burst=(?P<factor>[0-9.]+)x(?P<minutes>[0-9]+)@(?P<hh>[0-9]{1,2}):(?P<mm>[0-9]{2})$")


def load(value: str) -> TrafficDay:
    """A generated day for `shape:PEAK[,...]`, else the file at `value`."""
    shape, sep, rest = value.partition(":")
    if sep and shape in GENERATED_SHAPES and not Path(value).exists():
        return generate(shape, rest, value)
    return traffic.read(Path(value))


def at_rate(day: str, peak_rps: float) -> TrafficDay:
    """A generated day peaking at `peak_rps` (a run's design rate) from a profile's `scaling_day`:
    `diurnal` or `burst`, then optional `,burst=FACTORxMINUTES@HH:MM` storms."""
    shape, _, storms = day.partition(",")
    if shape not in GENERATED_SHAPES:
        raise CdrcapError(f"scaling day {day!r}: starts with {' or '.join(GENERATED_SHAPES)}, not {shape!r}")
    spec = f"{peak_rps:g}" + (f",{storms}" if storms else "")
    return generate(shape, spec, f"{shape}:{spec}")


def generate(shape: str, spec: str, text: str) -> TrafficDay:
    parts = spec.split(",")
    try:
        peak = float(parts[0])
        profile = RateProfile(shape, peak, float(DAY_S), steps=4)
    except (ValueError, LoadConfigError) as error:
        raise CdrcapError(
            f"--traffic {text!r}: expected {shape}:PEAK with PEAK records/s > 0, e.g. {shape}:2000"
        ) from error
    rates = np.array([profile.rate_at(m * MINUTE_S + MINUTE_S / 2) for m in range(DAY_S // MINUTE_S)])
    base_peak = float(rates.max())
    for part in parts[1:]:
        match = BURST.match(part.strip())
        if not match or int(match["hh"]) > 23 or int(match["mm"]) > 59 or float(match["factor"]) <= 0:
            raise CdrcapError(
                f"--traffic {text!r}: {part!r} is not a burst; expected burst=FACTORxMINUTES@HH:MM, "
                "e.g. burst=8x10@18:00"
            )
        start = int(match["hh"]) * 60 + int(match["mm"])
        end = min(start + int(match["minutes"]), rates.size)
        rates[start:end] = np.maximum(rates[start:end], base_peak * float(match["factor"]))
    return traffic.from_rates(rates, MINUTE_S, f"generated {text}")
