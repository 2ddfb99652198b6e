"""The reports package's one exception: bad or missing input, named by file and key."""

from __future__ import annotations


class ReportsError(Exception):
    """Base of every reports failure."""


class ReportInputError(ReportsError):
    """A run directory or summary that cannot be read: the message names the file and the key."""
