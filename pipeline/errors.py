"""The pipeline's small exception hierarchy: configuration errors and transient store failures."""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error the handler raises on purpose."""


class ConfigError(PipelineError):
    """An environment variable is missing or invalid; the message names it and says how to fix it."""


class TransientStoreError(PipelineError):
    """A downstream store stayed throttled/unavailable after retries; the records involved are retried."""
