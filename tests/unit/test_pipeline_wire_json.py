"""The msgspec fast paths (JSON records, decoded CSV/Avro fields) agree with the per-field path on every
record they take."""

import csv
import json
import time
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.decode import Rejected, decode_payload
from pipeline.mapping import load_mapping_set
from pipeline.schema import JSON_FIELDS_V1, JSON_FIELDS_V2, CanonicalCDR
from pipeline.validate import Limits, to_canonical
from pipeline.wire_json import canonical_fields, canonical_json, taken, takes
from tests.corpus.malformed import cases
from tests.support.pipeline_events import NOW_MS, as_csv, as_json, make_cdr

LIMITS = Limits("US", NOW_MS, 300_000, 30 * 86_400_000)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Values near every boundary the Structs draw: empty, digits, enum words, 64-bit edges, floats, nesting.
edge_values = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, -1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, 1.0, 12.5]),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "MOC", "SMS_MO", "NR", "GERAN", "310", "26", "+14155550100", "2026-11-18T08:00:00"]),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def per_field(payload: bytes) -> CanonicalCDR | tuple[str, str]:
    try:
        source_format, fields = decode_payload(payload, 64 * 1024)
        return to_canonical(fields, source_format, LIMITS)
    except Rejected as rejected:
        return (rejected.reason, rejected.detail)


def fast_then_per_field(payload: bytes) -> CanonicalCDR | tuple[str, str] | None:
    try:
        return canonical_json(payload, "json", LIMITS)
    except Rejected as rejected:
        return (rejected.reason, rejected.detail)


def assert_same(payload: bytes) -> None:
    if not takes(payload, 64 * 1024):  # the handler gives it to the per-field path only
        return
    fast = fast_then_per_field(payload)
    if fast is not None:  # None: left to the per-field path, which then decides alone
        assert fast == per_field(payload)


@pytest.mark.parametrize("version", [1, 2])
def test_good_records_of_both_versions_take_the_fast_path_with_the_same_result(version: int) -> None:
    # Given good JSON records of one version, answered and not, with and without optional fields
    records = [make_cdr(i) for i in range(20)]
    records[1].update(answer_time=None, duration_s=12, cause_for_term=None)
    for name in ("imsi", "imei", "lac", "bytes_up", "bytes_down", "sequence", "last_partial", "roaming"):
        del records[2][name]
    records[3].update(cdr_id="given-id", record_type="SMS_MO", called_number="BANK")
    # When each is validated both ways / Then the fast path takes it and agrees with the per-field path
    for record in records:
        payload = as_json(record, version)
        fast = fast_then_per_field(payload)
        assert fast is not None and fast == per_field(payload)


@FUZZ
@given(
    st.sampled_from([1, 2]),
    st.dictionaries(st.sampled_from([*JSON_FIELDS_V1, *JSON_FIELDS_V2, "derived", "extra"]), edge_values),
    st.sets(st.sampled_from(JSON_FIELDS_V2), max_size=3),
    st.integers(0, 10**6),
)
def test_a_record_with_fields_replaced_or_dropped_gets_the_same_result_either_way(
    version: int, replaced: dict[str, Any], dropped: set[str], i: int
) -> None:
    doc = orjson.loads(as_json(make_cdr(i), version))
    doc.update(replaced)
    for name in dropped:
        doc.pop(name, None)
    assert_same(json.dumps(doc).encode())  # the standard library writes integers beyond 64 bits


@FUZZ
@given(st.integers(0, 600), st.binary(min_size=1, max_size=3), st.integers(0, 10**6), st.sampled_from([1, 2]))
def test_a_good_record_with_bytes_spliced_in_gets_the_same_result_either_way(
    at: int, spliced: bytes, i: int, version: int
) -> None:
    good = as_json(make_cdr(i), version)
    cut = at % (len(good) + 1)
    assert_same(good[:cut] + spliced + good[cut:])


def test_every_json_case_of_the_malformed_corpus_gets_the_same_reason_either_way() -> None:
    # Given the corpus' JSON payloads (those the handler's pre-parse checks let through)
    payloads = [case.payload for case in cases() if case.raw_data is None and takes(case.payload, 64 * 1024)]
    assert len(payloads) >= 50
    # Then none is accepted by the fast path where the per-field path rejects it, nor the other way
    for payload in payloads:
        assert_same(payload)


def _either_way(fields: dict[str, Any], source_format: str, limits: Limits = LIMITS) -> tuple[Any, Any]:
    """(canonical_fields, to_canonical) of the same fields; a Rejected as (reason, detail)."""
    results: list[Any] = []
    for validate in (canonical_fields, to_canonical):
        try:
            results.append(validate(dict(fields), source_format, limits))
        except Rejected as rejected:
            results.append((rejected.reason, rejected.detail))
    return results[0], results[1]


@pytest.mark.parametrize("version", [1, 2])
def test_good_csv_records_of_both_versions_take_the_fields_fast_path_with_the_same_result(
    version: int,
) -> None:
    # Given good CSV records of one version, answered and not, with optional cells left empty
    records = [make_cdr(i) for i in range(20)]
    records[1].update(answer_time=None, duration_s=12, cause_for_term=None)
    records[2].update(imsi=None, imei=None, lac=None)
    records[3].update(cdr_id="given-id", record_type="SMS_MO", called_number="BANK")
    for record in records:
        source_format, fields = decode_payload(as_csv(record, version), 64 * 1024)
        # When each is validated both ways / Then the fast path takes it and agrees with the per-field path
        fast, slow = _either_way(fields, source_format)
        assert fast is not None and fast == slow
        assert fast.schema_version == version
        # and BER, which may carry its own `derived` list, always takes the per-field path
        assert canonical_fields(fields, "ber", LIMITS) is None


@FUZZ
@given(
    st.sampled_from([1, 2]),
    st.dictionaries(st.sampled_from([*JSON_FIELDS_V1, *JSON_FIELDS_V2, "derived", "extra"]), edge_values),
    st.sets(st.sampled_from(JSON_FIELDS_V1[1:]), max_size=3),  # decode_payload always sets schema_version
    st.integers(0, 10**6),
    st.sampled_from(["csv", "kpl+csv", "avro", "json"]),
)
def test_decoded_fields_replaced_or_dropped_get_the_same_result_either_way(
    version: int, replaced: dict[str, Any], dropped: set[str], i: int, source_format: str
) -> None:
    _, fields = decode_payload(as_csv(make_cdr(i), version), 64 * 1024)
    fields.update(replaced)
    for name in dropped:
        fields.pop(name, None)
    fast, slow = _either_way(fields, source_format)
    if fast is not None:  # None: left to the per-field path, which then decides alone
        assert fast == slow


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [as_json(make_cdr(1)), as_csv(make_cdr(2)), b"", b"{}", b'{"a":"\\u0000"}', b"{\x00}"]
            ),
            st.binary(max_size=12).map(lambda raw: b"{" + raw),
        ),
        max_size=8,
    ),
    st.integers(min_value=1, max_value=600),
)
def test_taken_is_takes_of_each_payload(payloads: list[bytes], max_record_bytes: int) -> None:
    # Given a batch's payloads, some with NUL bytes or escaped NULs (also across two payloads' boundary)
    # Then the batch-level check decides as the per-payload one does
    assert taken(payloads, max_record_bytes) == [takes(p, max_record_bytes) for p in payloads]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"calling_number": "12"},  # a bad number is checked before the duration
        {"seizure_time": "2026-11-18T09:00:00"},  # so are the times (release before seizure)
        {"mcc": "31"},  # the cell after it
        {"bytes_up": -5},  # negative bytes: the duration is still the first reason
        {"duration_s": -(2**63)},
    ],
)
def test_a_negative_duration_is_rejected_by_the_fast_path_as_by_the_per_field_path(
    overrides: dict[str, Any],
) -> None:
    # Given a record with a negative duration (and maybe another defect)
    for version in (1, 2):
        payload = as_json({**make_cdr(3), "duration_s": -1, **overrides}, version)
        # Then the fast path decides it (negative bytes: leaves it) with the per-field path's reason
        fast = fast_then_per_field(payload)
        assert fast is None if "bytes_up" in overrides else fast == per_field(payload)
        assert not isinstance(per_field(payload), CanonicalCDR)  # rejected either way


MAPPINGS = load_mapping_set("asterisk_cdr_csv,freeswitch_json_cdr,freeswitch_cdr_csv")
assert MAPPINGS is not None
PLMN_LIMITS = Limits("US", NOW_MS, 300_000, 30 * 86_400_000, {"": ("310", "260"), "fs02": ("234", "15")})


def mapped_fields(i: int, layout: int) -> tuple[str, dict[str, Any]]:
    """The fields an input mapping gives for a sample call of one of three layouts."""
    start = NOW_MS // 1000 - 3_600 + i % 1_800
    clock = [time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(s)) for s in (start, start + 5, start + 65)]
    if layout == 0:
        line = (
            f'"","201555{i % 10_000:04d}","2125550102","from-{"trunk" if i % 2 else "internal"}","A",'
            f'"PJSIP/1","PJSIP/2","Dial","x","{clock[0]}","{clock[1] if i % 3 else ""}","{clock[2]}",'
            f'65,60,"ANSWERED","DOCUMENTATION","{start}.{i}",""'
        )
        return MAPPINGS.decode_csv(next(csv.reader([line])))
    profile = {"caller_id_number": f"%2B1201555{i % 10_000:04d}", "destination_number": "2125550102"}
    variables = {
        "uuid": f"u-{i}",
        "start_epoch": str(start),
        "answer_epoch": str(start + 5) if i % 3 else "0",
    }
    variables.update(end_epoch=str(start + 65), duration="65", billsec="60", hangup_cause="NORMAL_CLEARING")
    doc = {
        "switchname": f"fs0{i % 3}",
        "channel_data": {},
        "variables": variables,
        "callflow": [{"caller_profile": profile}],
    }
    return MAPPINGS.decode_json(doc)


@pytest.mark.parametrize("limits", [LIMITS, PLMN_LIMITS], ids=["no serving PLMN", "serving PLMN"])
def test_good_mapped_records_take_the_fields_fast_path_with_the_same_result(limits: Limits) -> None:
    # Given the fields of good mapped records (CSV and JSON layouts, answered and not, with a given IMSI)
    for i in range(12):
        source_format, fields = mapped_fields(i, i % 2)
        if i % 4 == 1:
            fields["imsi"] = "310260123456789" if i % 8 == 1 else "234150123456789"
        # When each is validated both ways / Then the fast path takes it and agrees with the per-field path
        fast, slow = _either_way(fields, source_format, limits)
        assert fast is not None and fast == slow
        assert fast.derived == slow.derived and fast.roaming == slow.roaming


@FUZZ
@given(
    st.integers(0, 10**6),
    st.integers(0, 1),
    st.dictionaries(st.sampled_from([*JSON_FIELDS_V1[1:], "derived", "extra"]), edge_values),
    st.sets(st.sampled_from(JSON_FIELDS_V1[1:]), max_size=3),
    st.sampled_from([LIMITS, PLMN_LIMITS]),
)
def test_mapped_fields_replaced_or_dropped_get_the_same_result_either_way(
    i: int, layout: int, replaced: dict[str, Any], dropped: set[str], limits: Limits
) -> None:
    source_format, fields = mapped_fields(i, layout)
    fields.update(replaced)
    for name in dropped:
        fields.pop(name, None)
    fast, slow = _either_way(fields, source_format, limits)
    if fast is not None:  # None: left to the per-field path, which then decides alone
        assert fast == slow
        if isinstance(fast, CanonicalCDR):
            assert fast.derived == slow.derived
