"""The exception hierarchy of infra/ (packaging, deploy); messages name the bad value and the fix.

The CLI commands turn these into CdrcapError (exit 2) so infra/ stays independent of cdrcap/.
"""

from __future__ import annotations


class InfraError(Exception):
    """A packaging or deployment step failed in a way the user can act on."""
