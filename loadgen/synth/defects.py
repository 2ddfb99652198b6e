"""Defects injected at configurable rates, each labelled with the reason code the pipeline must give.

Column defects (times, numbers, duplicates) are applied before encoding; byte defects (truncation,
wrong types, bad encodings, wrong CSV width, unknown schema version) to the encoded payloads.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from loadgen.synth.config import FORMATS, SynthConfig
from loadgen.synth.fraud import cdr_id
from loadgen.synth.labels import Label
from loadgen.synth.traffic import FORM_E164, Columns
from pipeline.schema import JSON_FIELDS_V1, ReasonCode

# E.164-shaped but of an unassigned country code (999): invalid everywhere.
INVALID_NUMBER_DIGITS = 999_123_456_789
CSV_FORMATS = np.array([i for i, name in enumerate(FORMATS) if name.startswith("csv")])
JSON_FORMATS = np.array([i for i, name in enumerate(FORMATS) if name.startswith("json")])


def _pick(
    rng: np.random.Generator, free: np.ndarray, rate: float, eligible: np.ndarray | None = None
) -> np.ndarray:
    mask = free if eligible is None else free & eligible
    candidates = np.flatnonzero(mask)
    count = min(int(rng.binomial(len(free), rate)) if rate > 0 else 0, len(candidates))
    chosen = np.sort(rng.choice(candidates, size=count, replace=False)) if count else candidates[:0]
    free[chosen] = False
    return chosen


def _label(cols: Columns, i: int, scenario: str, reason: str) -> Label:
    seizure = int(cols.seizure_s[i])
    return Label(cdr_id(cols, i), "defect", scenario, "", "", seizure, seizure, reason)


def apply_column_defects(
    cols: Columns, config: SynthConfig, rng: np.random.Generator, free: np.ndarray
) -> list[Label]:
    rates = config.defects
    labels: list[Label] = []
    shifts = {"late": rates.late_max_s, "out_of_order": rates.out_of_order_max_s}
    for scenario, max_shift_s in shifts.items():
        pos = _pick(rng, free, getattr(rates, scenario))
        shift = rng.integers(max(max_shift_s // 10, 1), max_shift_s + 1, len(pos))
        for column in (cols.seizure_s, cols.release_s):
            column[pos] -= shift
        cols.answer_s[pos] = np.where(cols.answer_s[pos] >= 0, cols.answer_s[pos] - shift, -1)
        labels += [_label(cols, i, scenario, "") for i in pos.tolist()]
    pos = _pick(rng, free, rates.negative_duration)
    cols.duration_s[pos] = -rng.integers(1, 600, len(pos))
    labels += [_label(cols, i, "negative_duration", ReasonCode.NEGATIVE_DURATION) for i in pos.tolist()]
    pos = _pick(rng, free, rates.end_before_start)
    cols.release_s[pos] = cols.seizure_s[pos] - rng.integers(60, 3_600, len(pos))
    cols.answer_s[pos] = -1
    labels += [_label(cols, i, "end_before_start", ReasonCode.END_BEFORE_START) for i in pos.tolist()]
    pos = _pick(rng, free, rates.invalid_phone_number)
    cols.b_form[pos], cols.b_digits[pos] = FORM_E164, INVALID_NUMBER_DIGITS
    labels += [_label(cols, i, "invalid_phone_number", ReasonCode.INVALID_PHONE_NUMBER) for i in pos.tolist()]
    # A duplicate is a copy of a normal record of this batch (same cdr_id, same bytes, same key).
    pos = _pick(rng, free, rates.duplicate)
    originals = np.flatnonzero(free)
    for i in pos.tolist():
        if len(originals) == 0:
            break
        source = int(originals[rng.integers(0, len(originals))])
        cols.copy_row(source, i)
        free[source] = False  # the original must stay byte-identical to its copy
        labels.append(_label(cols, i, "duplicate", ReasonCode.DUPLICATE_CDR))
    return labels


def _truncate(payload: bytes) -> bytes:
    return payload[: len(payload) // 2]


_DURATION_JSON = re.compile(rb'"duration_s":(-?\d+)')


def _wrong_type(payload: bytes) -> bytes:
    if payload.startswith(b"{"):
        return _DURATION_JSON.sub(rb'"duration_s":[\1]', payload, count=1)
    cells = payload.split(b",")
    cells[_csv_index("duration_s")] += b"s"
    return b",".join(cells)


def _csv_index(name: str) -> int:
    # The CSV layouts keep the JSON field order, so v1 and v2 share the index of unrenamed fields.
    return JSON_FIELDS_V1.index(name)


def _marker(inserted: bytes) -> Callable[[bytes], bytes]:
    # Inside the msc id string, so the structure stays intact and only the encoding is wrong.
    return lambda payload: payload.replace(b"MSC", inserted + b"MSC", 1)


def _drop_column(payload: bytes) -> bytes:
    return payload.rsplit(b",", 1)[0]


def _unknown_version(payload: bytes) -> bytes:
    if payload.startswith(b"{"):
        return re.sub(rb'^\{"schema_version":\d+', b'{"schema_version":9', payload)
    return b"9" + payload[payload.index(b",") :]


BYTE_DEFECTS: dict[str, tuple[Callable[[bytes], bytes], ReasonCode, np.ndarray | None]] = {
    "truncated_json": (_truncate, ReasonCode.MALFORMED_PAYLOAD, JSON_FORMATS),
    "wrong_type": (_wrong_type, ReasonCode.BAD_TYPE, None),
    "invalid_utf8": (_marker(b"\xff\xfe"), ReasonCode.BAD_ENCODING, None),
    "nul_byte": (_marker(b"\x00"), ReasonCode.BAD_ENCODING, None),
    "csv_column_count": (_drop_column, ReasonCode.MALFORMED_PAYLOAD, CSV_FORMATS),
    "unknown_schema_version": (_unknown_version, ReasonCode.UNKNOWN_SCHEMA_VERSION, None),
}


def apply_byte_defects(
    cols: Columns, payloads: list[bytes], config: SynthConfig, rng: np.random.Generator, free: np.ndarray
) -> list[Label]:
    """Corrupt random free payloads in place; `cols` is in the same order as `payloads`."""
    labels: list[Label] = []
    for scenario, (corrupt, reason, formats) in BYTE_DEFECTS.items():
        eligible = None if formats is None else np.isin(cols.fmt, formats)
        for i in _pick(rng, free, getattr(config.defects, scenario), eligible).tolist():
            payloads[i] = corrupt(payloads[i])
            labels.append(_label(cols, i, scenario, reason))
    return labels
