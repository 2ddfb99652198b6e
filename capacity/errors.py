"""The capacity package's one exception: bad inputs to the model or planner, named with the fix."""

from __future__ import annotations


class CapacityError(ValueError):
    """An input the model cannot use: the message names the bad value and what would be valid."""
