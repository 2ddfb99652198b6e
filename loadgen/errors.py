"""The load generator's exceptions; `cdrcap load` maps them to exit code 2 (usage/input error)."""

from __future__ import annotations


class LoadgenError(Exception):
    """A failure the user can act on: the message names the bad value and the fix."""


class StreamNotAllowed(LoadgenError):
    """The stream is not in the target's allow-list: nothing is sent."""


class LoadConfigError(LoadgenError):
    """A load or synthesis parameter is out of range."""
