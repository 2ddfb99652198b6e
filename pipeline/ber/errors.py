"""Errors of the BER decoder: each carries the ReasonCode the CDR is rejected with."""

from __future__ import annotations

from pipeline.errors import PipelineError
from pipeline.schema import ReasonCode


class BerError(PipelineError):
    """A CDR (or a whole chunk) that cannot be decoded; `reason` is what the DLQ entry says."""

    reason: ReasonCode = ReasonCode.MALFORMED_PAYLOAD

    def __init__(self, detail: str, *, reason: ReasonCode | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if reason is not None:
            self.reason = reason


class BerFramingError(BerError):
    """The TS 32.297 file header or a CDR header is inconsistent (lengths, format, truncation)."""

    reason = ReasonCode.BER_FRAMING_ERROR


class BerFieldError(BerError):
    """A field with a special 32.298 encoding (TBCD, AddressString, TimeStamp, PLMN) is malformed."""

    reason = ReasonCode.BAD_TYPE
