"""The exception hierarchy of infra/ (packaging, deploy); messages name the bad value and the fix.

cdrcap/cli.py maps them to exit 2 with their message, in one place, so infra/ stays independent of cdrcap/.
"""

from __future__ import annotations


class InfraError(Exception):
    """A packaging or deployment step failed in a way the user can act on."""
