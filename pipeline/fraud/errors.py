"""The fraud package's exceptions: a bad rules file is a user error, a store failure makes the batch retry."""

from __future__ import annotations

from pipeline.errors import PipelineError


class FraudError(PipelineError):
    """Base of every fraud-rules failure."""


class RulesConfigError(FraudError):
    """The rules file is invalid; the message names the bad key and the fix."""


class FraudStateError(FraudError):
    """The state store could not apply a batch (e.g. contention beyond the retry budget); retry the batch."""
