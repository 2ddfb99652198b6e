"""Building blocks of the synthetic evaluation day: a canonical CDR builder with a running serial."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from pipeline.schema import CanonicalCDR, Cell, NumberKind, RecordType

DAY_MS = 86_400_000


def synthetic_cdr(
    msc_id: str,
    serial: int,
    record_type: RecordType,
    a_number: str,
    b_number: str,
    *,
    seizure_ms: int,
    answer_ms: int | None,
    release_ms: int,
    duration_s: int,
    cell: Cell,
    a_kind: NumberKind = NumberKind.E164,
    b_kind: NumberKind = NumberKind.E164,
    roaming: bool = False,
    imei: str | None = None,
) -> CanonicalCDR:
    """A canonical CDR with only the fields the fraud rules read set to something meaningful."""
    return CanonicalCDR(
        cdr_id=f"{msc_id}:{serial:09d}:0",
        record_type=record_type,
        a_number_raw=a_number,
        a_number=a_number,
        a_number_kind=a_kind,
        b_number_raw=b_number,
        b_number=b_number,
        b_number_kind=b_kind,
        b_country=None,
        imsi=None,
        imei=imei,
        seizure_utc_ms=seizure_ms,
        answer_utc_ms=answer_ms,
        release_utc_ms=release_ms,
        utc_offset_min=0,
        duration_s=duration_s,
        answered=answer_ms is not None,
        cause_for_term=None,
        cell=cell,
        msc_id=msc_id,
        call_reference=f"{serial:09d}",
        partial_sequence=0,
        last_partial=True,
        roaming=roaming,
        bytes_up=0,
        bytes_down=0,
        rat=None,
        schema_version=2,
        source_format="synthetic",
    )


@dataclass
class CdrBuilder:
    rng: random.Random
    day_start_ms: int
    cdrs: list[CanonicalCDR] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    serial: int = 0

    def cdr(
        self,
        record_type: RecordType,
        a_number: str,
        b_number: str,
        seizure_ms: int,
        duration_s: int,
        *,
        answered: bool,
        cell: Cell,
        a_kind: NumberKind = NumberKind.E164,
        b_kind: NumberKind = NumberKind.E164,
        roaming: bool = False,
        ring_s: int = 0,
        imei: str | None = None,
    ) -> CanonicalCDR:
        self.serial += 1
        answer_ms = seizure_ms + ring_s * 1000 if answered else None
        release_ms = seizure_ms + (ring_s + duration_s) * 1000 if answered else seizure_ms + duration_s * 1000
        record = synthetic_cdr(
            "EVAL01",
            self.serial,
            record_type,
            a_number,
            b_number,
            seizure_ms=seizure_ms,
            answer_ms=answer_ms,
            release_ms=release_ms,
            duration_s=duration_s,
            cell=cell,
            a_kind=a_kind,
            b_kind=b_kind,
            roaming=roaming,
            imei=imei,
        )
        self.cdrs.append(record)
        return record

    def number(self, prefix: str, digits: int) -> str:
        return prefix + str(self.rng.randrange(10 ** (digits - 1), 10**digits))

    def home(self) -> str:
        return self.number("+447", 9)

    def call(
        self,
        a: str,
        b: str,
        seizure_ms: int,
        cell: Cell,
        *,
        b_kind: NumberKind = NumberKind.E164,
        roaming: bool = False,
        imei: str | None = None,
    ) -> CanonicalCDR:
        """A voice call with a 3GPP-style duration: talk time if answered, ring time if not."""
        rng = self.rng
        answered = rng.random() < 0.8
        duration = max(1, int(rng.expovariate(1 / 120))) if answered else rng.randint(5, 30)
        return self.cdr(
            RecordType.MOC,
            a,
            b,
            seizure_ms,
            duration,
            answered=answered,
            cell=cell,
            ring_s=rng.randint(2, 12) if answered else 0,
            b_kind=b_kind,
            roaming=roaming,
            imei=imei,
        )
