"""The reports package's one exception: bad or missing input, named by file and key."""

from __future__ import annotations


class ReportInputError(Exception):
    """A run directory or summary that cannot be read: the message names the file and the key."""
