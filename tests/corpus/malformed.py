"""A corpus of malformed CDR payloads, each with the reason code the handler must reject it with.

Generated (not stored as files) so every case is derived from one known-good CDR and the expectation is
written next to the mutation that causes it. `cases()` returns >= 200 cases; names are stable test ids.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from pipeline.kpl import KPL_MAGIC, MD5_BYTES
from pipeline.schema import CSV_COLUMNS, REQUIRED_JSON_FIELDS_V1, ReasonCode
from tests.support.pipeline_events import as_csv, as_kpl, make_cdr

R = ReasonCode
MAX_RECORD_BYTES = 64 * 1024  # pipeline.config.DEFAULT_MAX_RECORD_BYTES, the handler's default


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    payload: bytes
    reason: ReasonCode
    # Kinesis `data` as given (not base64 of `payload`) for cases that break the event envelope itself.
    raw_data: str | None = None


def _good(i: int = 900_000, **overrides: Any) -> bytes:
    """A v1 JSON CDR with `overrides` applied as given (schema_version included)."""
    return orjson.dumps(make_cdr(i, **overrides))


def _truncated_json() -> list[Case]:
    doc = _good()
    # Every strict, non-empty prefix of a JSON object is invalid JSON.
    cuts = sorted({1, 2, 5, 10, 17, len(doc) - 1, len(doc) - 2, *range(20, len(doc) - 2, 13)})
    return [Case(f"truncated-json-{cut}", doc[:cut], R.MALFORMED_PAYLOAD) for cut in cuts]


INVALID_JSON = {
    "trailing-comma": b'{"schema_version": 1,}',
    "single-quotes": b"{'schema_version': 1}",
    "unquoted-key": b"{schema_version: 1}",
    "nan-literal": b'{"schema_version": 1, "duration_s": NaN}',
    "infinity-literal": b'{"schema_version": 1, "duration_s": Infinity}',
    "comment": b'{"schema_version": 1 /* v1 */}',
    "two-objects": b'{"schema_version": 1}{"schema_version": 1}',
    "brace-mismatch": b'{"schema_version": 1]',
    "bare-open": b"{",
    "array-top-level": b"[1, 2, 3]",
    "null-top-level": b"null",
    "string-top-level": b'"MOC"',
    "bad-escape": b'{"schema_version": 1, "msc_id": "\\x41"}',
    "control-char-in-string": b'{"schema_version": 1, "msc_id": "a\x01b"}',
    "leading-zero-number": b'{"schema_version": 01}',
    "deeply-nested": b'{"schema_version": 1, "x": ' + b"[" * 2000 + b"]" * 2000 + b"}",
    "whitespace-only": b"   \n",
    "html": b"<html><body>502 Bad Gateway</body></html>",
    "xml": b'<?xml version="1.0"?><cdr/>',
}


def _invalid_json() -> list[Case]:
    return [Case(f"invalid-json-{name}", raw, R.MALFORMED_PAYLOAD) for name, raw in INVALID_JSON.items()]


# (field, wrong value, reason): JSON types the validator must refuse.
WRONG_TYPES: list[tuple[str, Any, ReasonCode]] = [
    ("schema_version", "1", R.BAD_TYPE),
    ("schema_version", 1.0, R.BAD_TYPE),
    ("schema_version", True, R.BAD_TYPE),
    ("schema_version", [1], R.BAD_TYPE),
    ("record_type", 1, R.BAD_TYPE),
    ("record_type", ["MOC"], R.BAD_TYPE),
    ("record_type", {"type": "MOC"}, R.BAD_TYPE),
    ("calling_number", 12015550100, R.BAD_TYPE),
    ("calling_number", ["+12015550100"], R.BAD_TYPE),
    ("called_number", 442079460958, R.BAD_TYPE),
    ("called_number", True, R.BAD_TYPE),
    ("seizure_time", 1795010400, R.BAD_TYPE),
    ("release_time", 1795010460.5, R.BAD_TYPE),
    ("answer_time", ["2026-11-18T08:00:05"], R.BAD_TYPE),
    ("utc_offset", -300, R.BAD_TYPE),
    ("utc_offset", {"h": -5}, R.BAD_TYPE),
    ("duration_s", "60", R.BAD_TYPE),
    ("duration_s", 60.5, R.BAD_TYPE),
    ("duration_s", True, R.BAD_TYPE),
    ("duration_s", [60], R.BAD_TYPE),
    ("duration_s", 1e300, R.BAD_TYPE),  # integral float far beyond any counter
    ("duration_s", -1e300, R.BAD_TYPE),
    ("lac", "LAC1", R.BAD_TYPE),
    ("lac", 1.5, R.BAD_TYPE),
    ("cell_id", "10", R.BAD_TYPE),
    ("cell_id", {"id": 10}, R.BAD_TYPE),
    ("sequence", "0", R.BAD_TYPE),
    ("last_partial", "yes", R.BAD_TYPE),
    ("last_partial", 2, R.BAD_TYPE),
    ("roaming", "false", R.BAD_TYPE),
    ("bytes_up", "1000", R.BAD_TYPE),
    ("bytes_down", -1, R.BAD_TYPE),
    ("bytes_up", 2.5e30, R.BAD_TYPE),
    ("msc_id", 1, R.BAD_TYPE),
    ("call_reference", 12345, R.BAD_TYPE),
    ("cdr_id", 42, R.BAD_TYPE),
    ("cause_for_term", 16, R.BAD_TYPE),
    ("mcc", ["310"], R.INVALID_IDENTIFIER),
    ("mcc", "31", R.INVALID_IDENTIFIER),
    ("mcc", "3100", R.INVALID_IDENTIFIER),
    ("mcc", "ABC", R.INVALID_IDENTIFIER),
    ("mnc", "2", R.INVALID_IDENTIFIER),
    ("mnc", 2.6, R.INVALID_IDENTIFIER),
    ("imsi", "31026abc", R.INVALID_IDENTIFIER),
    ("imsi", "12345", R.INVALID_IDENTIFIER),
    ("imsi", "1" * 16, R.INVALID_IDENTIFIER),
    ("imei", "35209900176148X", R.INVALID_IDENTIFIER),
    ("imei", [352099001761481], R.INVALID_IDENTIFIER),
    ("record_type", "VOICE", R.UNKNOWN_RECORD_TYPE),
    ("record_type", "moc", R.UNKNOWN_RECORD_TYPE),
    ("calling_number", "not-a-number!", R.INVALID_PHONE_NUMBER),
    ("calling_number", "+1", R.INVALID_PHONE_NUMBER),
    ("called_number", "0044 20 7946 0958", R.INVALID_PHONE_NUMBER),  # 00 is not the US IDD
    ("called_number", "BANK", R.INVALID_PHONE_NUMBER),  # alphanumeric only for SMS
    ("calling_number", "9" * 40, R.INVALID_PHONE_NUMBER),
    ("duration_s", -3, R.NEGATIVE_DURATION),
    ("release_time", "2026-11-18T07:59:59", R.END_BEFORE_START),
    ("answer_time", "2026-11-18T08:05:00", R.END_BEFORE_START),
]


def _wrong_types() -> list[Case]:
    return [
        Case(f"field-{name}-{type(value).__name__}-{k}", _good(**{name: value}), reason)
        for k, (name, value, reason) in enumerate(WRONG_TYPES)
    ]


def _missing_fields() -> list[Case]:
    cases = []
    for name in REQUIRED_JSON_FIELDS_V1:
        absent = make_cdr(900_001)
        del absent[name]
        cases.append(Case(f"missing-{name}", orjson.dumps(absent), R.MISSING_FIELD))
        if name != "schema_version":
            cases.append(Case(f"null-{name}", _good(**{name: None}), R.MISSING_FIELD))
    cases.append(Case("empty-string-record_type", _good(record_type=""), R.MISSING_FIELD))
    cases.append(Case("empty-object", b"{}", R.MISSING_FIELD))
    return cases


def doc_with(old: bytes, new: bytes) -> bytes:
    """The default good JSON CDR with one literal token replaced (for values orjson would not write)."""
    doc = _good()
    assert old in doc
    return doc.replace(old, new)


def _huge_fields() -> list[Case]:
    return [
        Case("huge-payload", _good(cause_for_term="x" * MAX_RECORD_BYTES), R.OVERSIZED_RECORD),
        Case("huge-calling-number", _good(calling_number="1" * 70_000), R.OVERSIZED_RECORD),
        Case("huge-csv-line", as_csv(make_cdr(900_002, msc_id="M" * 70_000)), R.OVERSIZED_RECORD),
        Case("huge-cdr-id", _good(cdr_id="c" * 1000), R.INVALID_IDENTIFIER),
        Case("huge-msc-id-derived-id", _good(msc_id="M" * 300), R.INVALID_IDENTIFIER),
        Case("huge-call-reference", _good(call_reference="R" * 5000), R.INVALID_IDENTIFIER),
        Case("huge-called-number-digits", _good(called_number="+" + "4" * 500), R.INVALID_PHONE_NUMBER),
        Case("huge-utc-offset", _good(utc_offset="+" + "0" * 1000), R.INVALID_TIMESTAMP),
        Case("huge-integer", doc_with(b'"bytes_up":0', b'"bytes_up":' + b"1" * 24), R.BAD_TYPE),
        Case("huge-integral-float", doc_with(b'"bytes_up":0', b'"bytes_up":1e300'), R.BAD_TYPE),
        Case("huge-seizure-time", _good(seizure_time="2026" * 500), R.INVALID_TIMESTAMP),
    ]


def _nul_bytes() -> list[Case]:
    doc, line = _good(), as_csv(make_cdr(900_003))
    cases = [
        Case(f"nul-json-at-{at}", doc[:at] + b"\x00" + doc[at:], R.BAD_ENCODING)
        for at in (1, 15, 40, len(doc) // 2, len(doc) - 1, len(doc))
    ]
    cases += [
        Case(f"nul-csv-at-{at}", line[:at] + b"\x00" + line[at:], R.BAD_ENCODING)
        for at in (0, 2, 30, len(line) // 2, len(line))
    ]
    cases.append(Case("nul-only", b"\x00", R.BAD_ENCODING))
    cases.append(Case("nul-run", b"\x00" * 512, R.BAD_ENCODING))
    cases.append(Case("nul-in-string-value", _good(msc_id="MSC\x0001"), R.BAD_ENCODING))
    return cases


INVALID_UTF8 = {
    "lone-continuation": b"\x80",
    "overlong-slash": b"\xc0\xaf",
    "utf16-surrogate": b"\xed\xa0\x80",
    "beyond-unicode": b"\xf5\x80\x80\x80",
    "truncated-2-byte": b"\xc3",
    "truncated-3-byte": b"\xe2\x82",
    "latin1-e-acute": b"\xe9",
    "bom-then-ff": b"\xef\xbb\xbf\xff",
}


def _invalid_utf8() -> list[Case]:
    doc, line = _good(), as_csv(make_cdr(900_004))
    cases = []
    for name, bad in INVALID_UTF8.items():
        json_bad = doc.replace(b'"MSC01"', b'"MSC' + bad + b'01"')
        cases.append(Case(f"utf8-json-{name}", json_bad, R.BAD_ENCODING))
        cases.append(Case(f"utf8-csv-{name}", line.replace(b"MSC01", b"MSC" + bad), R.BAD_ENCODING))
    # An escaped lone surrogate is ASCII but no string: the JSON parser refuses it.
    cases.append(
        Case("json-escaped-lone-surrogate", doc.replace(b'"MSC01"', b'"\\ud800"'), R.MALFORMED_PAYLOAD)
    )
    return cases


def _csv_column_counts() -> list[Case]:
    cases = []
    for version, columns in CSV_COLUMNS.items():
        cells = as_csv(make_cdr(900_005), version).split(b",")
        for count in range(1, len(columns) + 4):
            if count == len(columns):
                continue
            row = (cells + [b"0"] * 3)[:count]
            cases.append(Case(f"csv-v{version}-{count}-columns", b",".join(row), R.MALFORMED_PAYLOAD))
    return cases


# (column, text): CSV cells that are not the numbers their column needs.
CSV_NOT_NUMBERS = [
    ("duration_s", "sixty"),
    ("duration_s", "1e3"),
    ("duration_s", "0x3c"),
    ("duration_s", "60.0"),
    ("duration_s", "NaN"),
    ("duration_s", "inf"),
    ("lac", "10-01"),
    ("cell_id", "12a"),
    ("sequence", "--1"),
    ("bytes_up", "1,000"),  # quoted so the column count stays right
    ("bytes_down", "9" * 40),  # beyond 64 bits: no store could count it
    ("bytes_up", "-" + "9" * 30),
    ("last_partial", "yes"),
    ("roaming", "2"),
]


def _csv_not_numbers() -> list[Case]:
    cases = []
    for k, (column, text) in enumerate(CSV_NOT_NUMBERS):
        cells = as_csv(make_cdr(900_006)).decode().split(",")
        cells[CSV_COLUMNS[1].index(column)] = f'"{text}"' if "," in text else text
        cases.append(Case(f"csv-not-a-number-{column}-{k}", ",".join(cells).encode(), R.BAD_TYPE))
    return cases


# (field, value, reason): times out of the calendar or out of the accepted window (now = 2026-11-18T14Z).
BAD_TIMES: list[tuple[str, str, ReasonCode]] = [
    ("seizure_time", "2026-13-01T08:00:00", R.INVALID_TIMESTAMP),
    ("seizure_time", "2026-02-30T08:00:00", R.INVALID_TIMESTAMP),
    ("seizure_time", "2026-11-18T25:00:00", R.INVALID_TIMESTAMP),
    ("seizure_time", "2026-11-18T08:61:00", R.INVALID_TIMESTAMP),
    ("seizure_time", "2026-11-18T08:00:60", R.INVALID_TIMESTAMP),
    ("seizure_time", "0000-01-01T00:00:00", R.INVALID_TIMESTAMP),
    ("seizure_time", "10000-01-01T00:00:00", R.INVALID_TIMESTAMP),
    ("seizure_time", "yesterday", R.INVALID_TIMESTAMP),
    ("seizure_time", "18/11/2026 08:00", R.INVALID_TIMESTAMP),
    ("release_time", "2026-11-18T08:01:05+25:00", R.INVALID_TIMESTAMP),
    ("utc_offset", "+15:00", R.INVALID_TIMESTAMP),
    ("utc_offset", "+05:60", R.INVALID_TIMESTAMP),
    ("utc_offset", "EST", R.INVALID_TIMESTAMP),
    ("utc_offset", "5", R.INVALID_TIMESTAMP),
    ("seizure_time", "0001-01-01T00:00:00", R.TIMESTAMP_TOO_OLD),
    ("seizure_time", "1970-01-01T00:00:00", R.TIMESTAMP_TOO_OLD),
    ("seizure_time", "2026-10-01T08:00:00", R.TIMESTAMP_TOO_OLD),
    ("release_time", "9999-12-31T23:59:59", R.TIMESTAMP_IN_FUTURE),
    ("release_time", "2026-11-19T08:01:05", R.TIMESTAMP_IN_FUTURE),
    ("release_time", "2038-01-19T03:14:08", R.TIMESTAMP_IN_FUTURE),
]


def _bad_times() -> list[Case]:
    return [
        Case(f"time-{name}-{k}", _good(**{name: value}), reason)
        for k, (name, value, reason) in enumerate(BAD_TIMES)
    ]


def _unknown_versions() -> list[Case]:
    cases = [
        Case(f"json-schema-version-{v}", _good(schema_version=v), R.UNKNOWN_SCHEMA_VERSION)
        for v in (0, 3, -1, 99, 2**40)
    ]
    line = as_csv(make_cdr(900_007))
    cases += [
        Case(f"csv-schema-version-{v}", str(v).encode() + line[1:], R.UNKNOWN_SCHEMA_VERSION)
        for v in (0, 3, 9, 10, 99999)
    ]
    return cases


def _reframed(body: bytes) -> bytes:
    """A KPL aggregate whose checksum matches `body`, so only the protobuf framing is wrong."""
    return KPL_MAGIC + body + hashlib.md5(body).digest()


def _corrupt_aggregates() -> list[Case]:
    agg = as_kpl([_good(900_010 + j) for j in range(3)])
    body = agg[len(KPL_MAGIC) : -MD5_BYTES]
    cases = [
        Case(
            f"kpl-flipped-byte-{at}", agg[:at] + bytes([agg[at] ^ 0x5A]) + agg[at + 1 :], R.CORRUPT_AGGREGATE
        )
        for at in (4, 5, 20, len(agg) // 2, len(agg) - MD5_BYTES - 1, len(agg) - 1)
    ]
    cases += [
        Case("kpl-truncated-trailer", agg[:-1], R.CORRUPT_AGGREGATE),
        Case("kpl-truncated-half", agg[: len(agg) // 2], R.CORRUPT_AGGREGATE),
        Case("kpl-magic-only", KPL_MAGIC, R.CORRUPT_AGGREGATE),
        Case("kpl-magic-short", KPL_MAGIC + b"\x01\x02", R.CORRUPT_AGGREGATE),
        Case("kpl-no-records", _reframed(b""), R.CORRUPT_AGGREGATE),
        Case("kpl-only-keys", _reframed(b"\x0a\x01k"), R.CORRUPT_AGGREGATE),
        Case("kpl-garbage-body", _reframed(b"\xff" * 32), R.CORRUPT_AGGREGATE),
        Case("kpl-length-past-end", _reframed(b"\x0a\x7fk"), R.CORRUPT_AGGREGATE),
        Case("kpl-body-cut", _reframed(body[: len(body) // 2]), R.CORRUPT_AGGREGATE),
        Case(
            "kpl-key-index-out-of-range",
            _reframed(b"\x0a\x01k\x1a\x05\x08\x07\x1a\x01x"),
            R.CORRUPT_AGGREGATE,
        ),
        Case("kpl-key-not-utf8", _reframed(b"\x0a\x01\xff\x1a\x05\x08\x00\x1a\x01x"), R.CORRUPT_AGGREGATE),
        Case("kpl-unsupported-wire-type", _reframed(b"\x0b\x00"), R.CORRUPT_AGGREGATE),
    ]
    return cases


def _misc() -> list[Case]:
    line = as_csv(make_cdr(900_008))
    return [
        Case("empty-record", b"", R.EMPTY_RECORD),
        Case("not-base64", b"", R.MALFORMED_PAYLOAD, raw_data="not base64!!"),
        Case("base64-bad-padding", b"", R.MALFORMED_PAYLOAD, raw_data="eyJh"[:3]),
        Case("csv-no-version", b"MOC,+12015550100", R.MALFORMED_PAYLOAD),
        Case("csv-only-newline", b"\r\n", R.MALFORMED_PAYLOAD),
        Case("csv-quote-then-newline", b'1,0",\n0', R.MALFORMED_PAYLOAD),
        Case("csv-unterminated-quote-newline", line[:20] + b'"\r\n' + line[20:], R.MALFORMED_PAYLOAD),
        Case("csv-quoted-version", b'"x' + line[1:], R.MALFORMED_PAYLOAD),
        Case("tsv-instead-of-csv", line.replace(b",", b"\t"), R.MALFORMED_PAYLOAD),
        Case("gzip-payload", b"\x1f\x8b\x08\x00" + line, R.BAD_ENCODING),
        Case("ber-garbage-tlv", b"\xa0\x04\xff\xff\xff\xff", R.BER_DECODE_ERROR),
        Case("ber-garbage-long", b"\xa0\x81\x80" + b"\x9f" * 128, R.BER_DECODE_ERROR),
        Case("ber-unknown-choice", b"\xbf\x7f\x02\x80\x00", R.UNKNOWN_RECORD_TYPE),
    ]


def _gsr_framed() -> list[Case]:
    """Glue Schema Registry framing (byte 0 = 3) that is wrong, or of a version no registry holds (the
    corpus runs the processor without one)."""
    version_id = bytes(range(16))
    body = b"\x02\x00"
    return [
        Case("gsr-header-only", bytes((3, 0)) + version_id, R.GSR_FRAMING_ERROR),
        Case("gsr-short", bytes((3, 0, 1)), R.GSR_FRAMING_ERROR),
        *(
            Case(f"gsr-compression-{byte}", bytes((3, byte)) + version_id + body, R.GSR_FRAMING_ERROR)
            for byte in (1, 4, 6, 255)
        ),
        Case("gsr-zlib-not-deflate", bytes((3, 5)) + version_id + b"not zlib", R.GSR_FRAMING_ERROR),
        Case("gsr-unknown-version", bytes((3, 0)) + version_id + body, R.GSR_UNKNOWN_SCHEMA_VERSION),
    ]


def cases() -> list[Case]:
    """Every malformed case; names are unique."""
    return [
        *_truncated_json(),
        *_invalid_json(),
        *_wrong_types(),
        *_missing_fields(),
        *_huge_fields(),
        *_nul_bytes(),
        *_invalid_utf8(),
        *_csv_column_counts(),
        *_csv_not_numbers(),
        *_bad_times(),
        *_unknown_versions(),
        *_corrupt_aggregates(),
        *_gsr_framed(),
        *_misc(),
    ]
