"""Adapter: a decoded BER CDR's canonical fields -> the JSON v1 wire fields the JSON/CSV path validates.

With it a BER CDR goes through the same validation and normalisation as every other format (future/old
timestamps, E.164, identifiers). Times go back to the switch's local ISO time + "±HH:MM" offset, exactly
what the JSON wire carries.
"""

from __future__ import annotations

import time
from typing import Any, Final

from pipeline.schema import RecordType

WIRE_SCHEMA_VERSION: Final = 1
# Canonical name -> JSON v1 wire name, where they differ.
_RENAMED: Final = {
    "a_number_raw": "calling_number",
    "b_number_raw": "called_number",
    "partial_sequence": "sequence",
}
_TIMES: Final = {
    "seizure_utc_ms": "seizure_time",
    "answer_utc_ms": "answer_time",
    "release_utc_ms": "release_time",
}
_DROPPED: Final = frozenset({"answered", "utc_offset_min", "schema_version", "source_format"})


def format_utc_offset(offset_min: int) -> str:
    sign = "+" if offset_min >= 0 else "-"
    return f"{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"


def local_iso(utc_ms: int, offset_min: int) -> str:
    """UTC epoch ms -> the local wall-clock time at `offset_min`, ISO-8601 without offset (the JSON wire)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(utc_ms // 1000 + offset_min * 60))


def to_wire_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """JSON v1 wire fields of a decoded BER CDR; BER-only extras (ber_*, apn) pass through.

    A data session has no called party: `called_number` is the subscriber's own number (aggregates skip
    the destination of DATA records) and the APN moves to `apn`.
    """
    offset_min = int(fields["utc_offset_min"])
    wire: dict[str, Any] = {
        "schema_version": WIRE_SCHEMA_VERSION,
        "utc_offset": format_utc_offset(offset_min),
    }
    for name, value in fields.items():
        if name in _DROPPED:
            continue
        if name in _TIMES:
            wire[_TIMES[name]] = None if value is None else local_iso(value, offset_min)
        else:
            wire[_RENAMED.get(name, name)] = value
    if fields["record_type"] == RecordType.DATA.value:
        wire["apn"] = fields["b_number_raw"]
        wire["called_number"] = fields["a_number_raw"]
    return wire
