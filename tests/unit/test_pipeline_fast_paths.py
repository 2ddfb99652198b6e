"""The handler's fast paths give exactly what the general paths give (see docs/benchmarks.md, Profiling)."""

import base64
import binascii
import gc
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import orjson
import pybase64
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.ber import encode_file, encode_record
from pipeline.config import load_config
from pipeline.decode import Rejected, decode_payload
from pipeline.emit import (
    _enriched_document,
    archive_body,
    archive_gzip,
    enriched_batch,
    enriched_line,
    enriched_lines,
)
from pipeline.events import Units, expand
from pipeline.normalize import _general_local_to_utc_ms, fixed_local_ms, local_to_utc_ms
from pipeline.processor import BatchProcessor
from pipeline.schema import CanonicalCDR, ReasonCode
from pipeline.stores import in_memory_stores
from pipeline.validate import Limits, to_canonical
from tests.support.pipeline_events import (
    NOW_MS,
    PIPELINE_ENV,
    as_csv,
    as_json,
    as_kpl,
    ber_call_fields,
    kinesis_event,
    make_cdr,
)

LIMITS = Limits("US", NOW_MS, 300_000, 30 * 86_400_000)
ENV = PIPELINE_ENV


def canonical(**overrides: Any) -> CanonicalCDR:
    source_format, fields = decode_payload(as_json(make_cdr(1, **overrides)), 65536)
    return to_canonical(fields, source_format, LIMITS)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-18T08:00:00",
        "2026-11-18 08:00:59",
        "2026-11-18T08:00:60",  # no 60th second
        "2026-02-30T08:00:00",  # no such day
        "2026-11-18T24:00:00",
        "2026-11-18T08:00:5x",
        "2026-W47-3T08:00:00",  # ISO week date
        "2026-11-18T08:00Z00",
        "2026-11-18T8:00:00 ",
        "2026-11-18T08:00:00+05:30",  # explicit offset: general path
        "2026-11-18T08:00:00.250",
    ],
)
def test_fixed_format_time_fast_path_agrees_with_the_general_parser(text: str) -> None:
    for offset_min in (0, 330, -300):
        assert local_to_utc_ms(text, offset_min) == _general_local_to_utc_ms(text, offset_min)
        # the local time msgspec's path caches, shifted, is the same UTC time (None: the general path)
        local_ms = fixed_local_ms(text)
        if local_ms is not None:
            assert local_ms - offset_min * 60_000 == _general_local_to_utc_ms(text, offset_min)
    assert (fixed_local_ms(text) is None) == (text != "2026-11-18T08:00:00" and text != "2026-11-18 08:00:59")


def test_enriched_lines_of_a_batch_are_the_single_line_encodings() -> None:
    # Given ids and numbers holding the line separator text, newlines, quotes and non-ASCII
    cdrs = [
        canonical(cdr_id='x,{"dedup_key":"y"}'),
        canonical(cdr_id="ünïcode\"quote'", cause_for_term=',{"dedup_key":'),
        canonical(cdr_id="new\nline\r\n", cause_for_term="\n"),
        canonical(cdr_id="plain"),
    ]
    positions = ["s/1/", "s/2/0", "s/3/", "s/4/"]
    arrivals = [1, 2, 3, 4]
    lines = enriched_lines(cdrs, positions, arrivals)
    assert lines == [enriched_line(c, p, a) for c, p, a in zip(cdrs, positions, arrivals, strict=True)]
    assert [orjson.loads(line)["cdr"]["cdr_id"] for line in lines] == [c.cdr_id for c in cdrs]


def test_enriched_lines_of_no_cdrs_is_empty() -> None:
    assert enriched_lines([], [], []) == []


@pytest.mark.parametrize("count", [0, 1, 3])
def test_the_archive_takes_the_encoders_ndjson_as_the_lines_joined(count: int) -> None:
    # Given a batch's CDRs (none, one, several; one with a newline in a value)
    cdrs = [canonical(cdr_id=f"id-{i}\n", cause_for_term="x") for i in range(count)]
    positions, arrivals = [f"s/{i}/" for i in range(count)], list(range(count))
    # When its lines and NDJSON are encoded in one call
    lines, ndjson = enriched_batch(cdrs, positions, arrivals)
    # Then the NDJSON is the lines, each followed by a newline, and the archive object is the same bytes
    assert lines == enriched_lines(cdrs, positions, arrivals)
    assert ndjson == b"\n".join(lines) + b"\n"
    assert archive_gzip(ndjson) == archive_body(lines)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"cell_id": True}, ReasonCode.BAD_TYPE),  # True == 1 must not hit a cached cell 1
        ({"cell_id": [11]}, ReasonCode.BAD_TYPE),  # unhashable: validated uncached
        ({"mcc": ["310"]}, ReasonCode.INVALID_IDENTIFIER),
    ],
)
def test_cached_cell_validation_keeps_the_reasons(overrides: dict[str, Any], reason: ReasonCode) -> None:
    canonical(cell_id=11)  # the valid cell is cached first
    with pytest.raises(Rejected) as caught:
        canonical(**overrides)
    assert caught.value.reason is reason


def test_integral_float_cell_id_is_accepted_like_an_int() -> None:
    assert canonical(cell_id=11.0).cell.cell_id == 11


def test_first_missing_required_field_is_reported() -> None:
    with pytest.raises(Rejected) as caught:
        canonical(msc_id=None, mcc=None)
    assert caught.value.detail == "mcc"


def test_processing_restores_the_garbage_collector() -> None:
    processor = BatchProcessor(load_config(ENV), in_memory_stores())
    assert gc.isenabled()
    processor.process(kinesis_event([as_json(make_cdr(1))]), now_ms=NOW_MS)
    assert gc.isenabled()


def test_enriched_lines_carry_fraud_rules_and_derived_values_as_the_orjson_documents_do() -> None:
    # Given CDRs with and without derived values, one of them tagged by two fraud rules
    cdrs = [
        canonical(cdr_id="tagged"),
        canonical(cdr_id="derived")._replace(derived=(("mcc", "CDRCAP_SERVING_PLMN"), ("mnc", "x"))),
        canonical(cdr_id="plain"),
    ]
    rules = {"tagged": ("irsf", "wangiri")}
    # When the batch's lines are encoded
    lines = enriched_lines(cdrs, ["s/1/", "s/2/", "s/3/"], [1, 2, 3], rules)
    # Then each line is byte for byte orjson's encoding of the documented line
    assert lines == [
        orjson.dumps(_enriched_document(c, p, a, rules))
        for c, p, a in zip(cdrs, ["s/1/", "s/2/", "s/3/"], [1, 2, 3], strict=True)
    ]
    assert orjson.loads(lines[0])["fraud_rules"] == ["irsf", "wangiri"]
    assert orjson.loads(lines[1])["cdr"]["derived"] == {"mcc": "CDRCAP_SERVING_PLMN", "mnc": "x"}


def _units_as_lists(units: Units) -> dict[str, Any]:
    return {f.name: getattr(units, f.name) for f in fields(units)}


def test_expanding_a_batch_gives_the_units_of_its_records_expanded_one_by_one() -> None:
    # Given a batch mixing plain records with every record that expands otherwise, at its start, middle
    # and end (KPL aggregates, a corrupt one, undecodable base64, a BER record and a 32.297 chunk)
    ber_call = encode_record(ber_call_fields("0001", NOW_MS - 3_600_000))
    payloads = [
        as_kpl([as_json(make_cdr(1)), as_csv(make_cdr(2))]),
        as_json(make_cdr(3)),
        as_csv(make_cdr(4), version=2),
        as_kpl([as_json(make_cdr(5))])[:-1] + b"\x00",
        as_json(make_cdr(6), version=2),
        b"",
        ber_call,
        encode_file([(ber_call, 6), (b"\x30\x01", 6)]),
        as_json(make_cdr(7)),
        as_kpl([as_json(make_cdr(8)), as_json(make_cdr(9)), as_json(make_cdr(10))]),
    ]
    event = kinesis_event(payloads)
    event["Records"][4]["kinesis"]["data"] = "not base64!"
    # When it is expanded whole, and record by record
    whole = expand(event, "IN")
    alone = Units()
    for record in event["Records"]:
        units = expand({"Records": [record]}, "IN")
        offset = len(alone)
        for name, value in _units_as_lists(units).items():
            if name in ("early_reject", "pre_decoded"):
                getattr(alone, name).update({offset + i: v for i, v in value.items()})
            elif name == "event_source_arn":
                alone.event_source_arn = alone.event_source_arn or value
            else:
                getattr(alone, name).extend(value)
    # Then both give the same units in the same order
    assert _units_as_lists(whole) == _units_as_lists(alone)
    assert whole.sub_sequence == [0, 1, None, None, None, None, None, None, 0, 1, None, 0, 1, 2]
    assert set(whole.early_reject) == {4, 5, 9}  # the corrupt aggregate, the base64, the chunk's bad CDR
    assert set(whole.pre_decoded) == {7, 8}  # the BER record, the chunk's good CDR


def test_records_missing_a_field_expand_with_the_defaults_and_the_rest_unchanged() -> None:
    # Given a batch whose columns are read in C, and the same batch with one record missing its eventID and
    # another its partition key and arrival time (the per-record way fills in defaults)
    payloads = [as_json(make_cdr(i)) for i in range(4)]
    event = kinesis_event(payloads)
    complete = expand(event)
    del event["Records"][1]["eventID"]
    del event["Records"][2]["kinesis"]["partitionKey"]
    del event["Records"][2]["kinesis"]["approximateArrivalTimestamp"]
    # When both are expanded
    partial = expand(event)
    # Then only the missing fields differ, replaced by their defaults
    assert partial.shard_id == [complete.shard_id[0], "shardId-unknown", *complete.shard_id[2:]]
    assert partial.partition_key == [*complete.partition_key[:2], "", complete.partition_key[3]]
    assert partial.arrival_ms == [*complete.arrival_ms[:2], 0, complete.arrival_ms[3]]
    assert partial.payload == complete.payload == payloads
    assert partial.sequence_number == complete.sequence_number


def test_a_json_payload_with_a_nul_byte_is_still_expanded_as_one_unit() -> None:
    # Given a batch where one JSON payload holds a NUL (the batch-wide plain-JSON test cannot be used)
    payloads = [as_json(make_cdr(1)), b'{"a\x00": 1}', as_json(make_cdr(2))]
    # When it is expanded, Then each record is one plain unit, as without the NUL
    units = expand(kinesis_event(payloads))
    assert units.payload == payloads
    assert units.sub_sequence == [None, None, None]
    assert not units.early_reject


_BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _decoded(decode: Callable[[str], bytes], data: str) -> bytes | None:
    try:
        return decode(data)
    except (binascii.Error, ValueError):
        return None


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=_BASE64_ALPHABET + "=", max_size=16),
        st.text(alphabet=_BASE64_ALPHABET + "= \n-_.\x00é", max_size=16),
        st.binary(max_size=40).map(lambda raw: base64.b64encode(raw).decode()),
    )
)
def test_what_pybase64_accepts_binascii_strict_mode_accepts_with_the_same_bytes(data: str) -> None:
    # events.expand decodes with pybase64 first and lets binascii's strict mode decide what it refuses
    fast = _decoded(lambda text: pybase64.b64decode(text, validate=True), data)
    if fast is not None:
        assert _decoded(lambda text: binascii.a2b_base64(text, strict_mode=True), data) == fast
