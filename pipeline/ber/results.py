"""What decode_ber returns per CDR: the canonical fields, or a rejection with a reason code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pipeline.schema import ReasonCode

FILE_LEVEL_INDEX: Final = -1  # a finding about the 32.297 file itself (lost CDRs), not one of its CDRs


@dataclass(frozen=True, slots=True)
class BerDecoded:
    """One CDR decoded: `fields` are the CanonicalCDR fields before phone normalisation (docs/ber.md)."""

    index: int  # position of the CDR in the chunk (0 for a bare record)
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BerRejected:
    """One CDR (or, with index FILE_LEVEL_INDEX, the file) rejected with a reason and a PII-free detail."""

    index: int
    reason: ReasonCode
    detail: str

    @property
    def is_file_level(self) -> bool:
        return self.index == FILE_LEVEL_INDEX


BerResult = BerDecoded | BerRejected
