"""The CLI's exit codes and the one exception every command raises for a user-facing failure."""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # a regression, a missed SLO, an invariant that does not hold
EXIT_USAGE = 2  # bad arguments, bad config, missing or malformed input


class CdrcapError(Exception):
    """A failure the user can act on: the message names the bad value and the fix."""

    exit_code = EXIT_USAGE


class CheckFailed(CdrcapError):
    """The command ran, and what it checks does not hold."""

    exit_code = EXIT_CHECK_FAILED
