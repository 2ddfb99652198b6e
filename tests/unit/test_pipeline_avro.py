import io
import json
import uuid
import zlib
from typing import Any

import orjson
import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import ber, gsr
from pipeline.avro_cdr import (
    UNKNOWN_VERSION_RETRY_S,
    AvroDecoder,
    AvroEncoder,
    InMemorySchemaRegistry,
    plain_reader,
    schema_definition,
    schema_text,
)
from pipeline.decode import Rejected, decode_payload, sniff
from pipeline.errors import TransientStoreError
from pipeline.processor import BatchOutcome, BatchProcessor
from pipeline.schema import JSON_FIELDS_V1, JSON_FIELDS_V2, ReasonCode
from pipeline.stores import InMemoryDeadLetterQueue, InMemoryOutputStream, Stores, in_memory_stores
from tests.support.pipeline_events import (
    NOW_MS,
    PIPELINE_CONFIG,
    as_avro,
    as_json,
    as_kpl,
    kinesis_event,
    make_cdr,
)

V1_ID = uuid.UUID("11111111-2222-3333-4444-555555555555")
V2_ID = uuid.UUID("66666666-7777-8888-9999-aaaaaaaaaaaa")
UNKNOWN_ID = uuid.UUID("00000000-0000-0000-0000-0000000000ff")


def registry() -> InMemorySchemaRegistry:
    return InMemorySchemaRegistry({V1_ID: schema_text(1), V2_ID: schema_text(2)})


def run(event: dict[str, Any], schemas: Any, stores: Stores | None = None) -> tuple[BatchOutcome, Stores]:
    stores = stores or in_memory_stores()
    return BatchProcessor(PIPELINE_CONFIG, stores, schemas=schemas).process(event, now_ms=NOW_MS), stores


def outputs(stores: Stores) -> list[dict[str, Any]]:
    assert isinstance(stores.output, InMemoryOutputStream)
    return [orjson.loads(data) for _, data in stores.output.records]


def dlq_reasons(stores: Stores) -> list[str]:
    assert isinstance(stores.dlq, InMemoryDeadLetterQueue)
    return [orjson.loads(message)["reason"] for message in stores.dlq.messages]


# --- framing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", gsr.COMPRESSIONS)
def test_framing_round_trips_the_schema_version_id_and_body(compression: int) -> None:
    body = b"\x02avro\x00body" * 20
    framed = gsr.frame(body, V2_ID, compression=compression)
    assert framed[0] == 3 and framed[1] == compression and framed[2:18] == V2_ID.bytes
    assert gsr.unframe(framed) == (V2_ID, body, compression)


def test_zlib_framing_compresses_the_body() -> None:
    body = b"MSC01" * 200
    framed = gsr.frame(body, V1_ID, compression=gsr.COMPRESSION_ZLIB)
    assert framed[18:] == zlib.compress(body) and len(framed) < len(body)


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        (bytes((3, 0)) + V1_ID.bytes, "header"),  # header only, no data
        (bytes((3, 0, 1, 2)), "header"),  # short
        (bytes((3, 7)) + V1_ID.bytes + b"\x02", "compression byte 7"),
        (bytes((3, 5)) + V1_ID.bytes + b"not zlib", "does not inflate"),
        (bytes((3, 5)) + V1_ID.bytes + zlib.compress(b"x" * 100)[:-6], "truncated"),
    ],
)
def test_a_bad_header_or_body_is_a_framing_error(payload: bytes, complaint: str) -> None:
    with pytest.raises(gsr.GsrFramingError, match=complaint):
        gsr.unframe(payload)


def test_a_zlib_bomb_is_refused() -> None:
    # Given 1 MiB of zeros deflated to ~1 KiB, when unframed with the handler's 64 KiB record cap
    framed = gsr.frame(b"\x00" * (1 << 20), V1_ID, compression=gsr.COMPRESSION_ZLIB)
    assert len(framed) < 2_000
    with pytest.raises(gsr.GsrFramingError, match="inflates past 65536 bytes"):
        gsr.unframe(framed, 65_536)
    # And through the processor it is a framing reject, the cap being CDRCAP_MAX_RECORD_BYTES
    outcome, _ = run(kinesis_event([framed]), registry())
    assert dict(outcome.rejected) == {ReasonCode.GSR_FRAMING_ERROR: 1}


def test_sniff_tells_gsr_framing_from_the_text_formats() -> None:
    assert sniff(gsr.frame(b"\x02", V1_ID)) == "avro"
    assert sniff(b'{"schema_version": 1}') == "json" and sniff(b"1,2,3") == "csv"


# --- schemas ---------------------------------------------------------------------------------------------


def test_the_avro_schemas_carry_the_json_fields_of_their_version() -> None:
    # v2 keeps v1's names (calling_number) and adds rat: the decoder's Fields are the JSON v1 names
    v1 = [f["name"] for f in schema_definition(1)["fields"]]
    v2 = [f["name"] for f in schema_definition(2)["fields"]]
    assert v1 == list(JSON_FIELDS_V1)
    assert v2 == [*JSON_FIELDS_V1, *(set(JSON_FIELDS_V2) - set(JSON_FIELDS_V1) - {"a_party"})]
    assert all("default" in f for f in schema_definition(2)["fields"] if f["name"] not in v1)


def _round_trip(record: dict[str, Any], writer_version: int, reader_version: int) -> dict[str, Any]:
    buffer = io.BytesIO()
    schemaless_writer(buffer, parse_schema(schema_definition(writer_version)), record)
    buffer.seek(0)
    writer = parse_schema(schema_definition(writer_version))
    reader = parse_schema(schema_definition(reader_version))
    result: dict[str, Any] = schemaless_reader(buffer, writer, reader)
    return result


def test_a_v1_writer_is_read_by_the_v2_reader_with_rat_null() -> None:
    record = _round_trip(make_cdr(1), writer_version=1, reader_version=2)
    assert record == {**make_cdr(1), "cdr_id": None, "rat": None}


def test_a_v2_writer_is_read_by_a_v1_reader_without_rat() -> None:
    record = _round_trip(
        {**make_cdr(2), "schema_version": 2, "rat": "NR"}, writer_version=2, reader_version=1
    )
    assert record == {**make_cdr(2), "cdr_id": None, "schema_version": 2}


# --- the handler's decoding -----------------------------------------------------------------------------


def test_avro_v1_and_v2_records_come_out_as_their_json_twins() -> None:
    # Given the same CDRs as JSON and as Avro (v1 and v2 writers, zlib, KPL-aggregated)
    v1, v2 = AvroEncoder(V1_ID, 1), AvroEncoder(V2_ID, 2, compression=gsr.COMPRESSION_ZLIB)
    cdrs = [make_cdr(0), make_cdr(1, rat="EUTRAN"), make_cdr(2, rat="EUTRAN")]
    json_twins = [as_json(cdrs[0]), as_json(cdrs[1], 2), as_json(cdrs[2], 2)]
    avro = [as_avro(cdrs[0], v1), as_avro(cdrs[1], v2), as_kpl([as_avro(cdrs[2], v2)])]
    # When each is processed
    _, json_stores = run(kinesis_event(json_twins), None)
    outcome, avro_stores = run(kinesis_event(avro), registry())
    # Then every Avro record is applied and its canonical CDR is its JSON twin's but for the source format
    assert outcome.applied == 3 and not outcome.rejected
    got = [doc["cdr"] for doc in outputs(avro_stores)]
    want = [doc["cdr"] for doc in outputs(json_stores)]
    assert [doc.pop("source_format") for doc in got] == ["avro", "avro", "kpl+avro"]
    assert [doc.pop("source_format") for doc in want] == ["json", "json", "json"]
    assert got == want
    assert got[0]["rat"] is None and got[1]["rat"] == "EUTRAN" and got[1]["schema_version"] == 2


def test_each_bad_avro_record_goes_to_the_dlq_with_its_reason_while_neighbours_are_processed() -> None:
    v2 = AvroEncoder(V2_ID, 2)
    good = [as_avro(make_cdr(i), v2) for i in range(3)]
    body = gsr.unframe(good[0]).body
    bad = {
        ReasonCode.GSR_FRAMING_ERROR: bytes((3, 9)) + V2_ID.bytes + body,
        ReasonCode.GSR_UNKNOWN_SCHEMA_VERSION: gsr.frame(body, UNKNOWN_ID),
        ReasonCode.AVRO_DECODE_ERROR: gsr.frame(body[:7], V2_ID),
    }
    trailing = gsr.frame(body + b"\x00\x00", V2_ID)
    outcome, stores = run(kinesis_event([good[0], *bad.values(), good[1], trailing, good[2]]), registry())
    assert outcome.applied == 3
    assert dict(outcome.rejected) == {
        ReasonCode.GSR_FRAMING_ERROR: 1,
        ReasonCode.GSR_UNKNOWN_SCHEMA_VERSION: 1,
        ReasonCode.AVRO_DECODE_ERROR: 2,
    }
    assert sorted(dlq_reasons(stores)) == sorted([*map(str, bad), ReasonCode.AVRO_DECODE_ERROR.value])


def test_without_a_registry_an_avro_record_is_rejected_not_crashed() -> None:
    with pytest.raises(Rejected) as rejected:
        decode_payload(as_avro(make_cdr(), AvroEncoder(V1_ID, 1)), 65_536)
    assert rejected.value.reason is ReasonCode.GSR_UNKNOWN_SCHEMA_VERSION
    with pytest.raises(Rejected) as rejected:
        decode_payload(bytes((3, 9)) + V1_ID.bytes + b"\x02", 65_536)
    assert rejected.value.reason is ReasonCode.GSR_FRAMING_ERROR


def test_the_writer_schema_is_asked_of_the_registry_once_per_container() -> None:
    schemas = registry()
    processor = BatchProcessor(PIPELINE_CONFIG, in_memory_stores(), schemas=schemas)
    v1, v2 = AvroEncoder(V1_ID, 1), AvroEncoder(V2_ID, 2)
    for start in (0, 100):
        event = kinesis_event([as_avro(make_cdr(start + i), v1 if i % 2 else v2) for i in range(10)], start)
        assert processor.process(event, now_ms=NOW_MS).applied == 10
    assert schemas.lookups == 2  # one per schema version, not per record or batch


def test_an_unknown_version_is_asked_again_only_after_the_retry_interval() -> None:
    now = [0.0]
    schemas = registry()
    decoder = AvroDecoder(schemas, clock=lambda: now[0])
    record = gsr.frame(b"\x02", UNKNOWN_ID)
    for _ in range(5):
        with pytest.raises(Rejected):
            decoder.decode(record)
    assert schemas.lookups == 1
    schemas.definitions[UNKNOWN_ID] = schema_text(2)  # registered meanwhile
    now[0] = UNKNOWN_VERSION_RETRY_S + 1
    with pytest.raises(Rejected) as rejected:
        decoder.decode(record)  # known now; the one byte is no CDR
    assert rejected.value.reason is ReasonCode.AVRO_DECODE_ERROR and schemas.lookups == 2


def test_a_writer_that_needs_avro_resolution_is_projected_by_fastavro() -> None:
    # Given a writer whose cell_id is an int (promoted to the reader's long) and that carries an extra field
    writer = schema_definition(1)
    next(f for f in writer["fields"] if f["name"] == "cell_id")["type"] = "int"
    writer["fields"].append({"name": "switch_vendor", "type": "string", "default": ""})
    version_id = uuid.uuid4()
    buffer = io.BytesIO()
    schemaless_writer(buffer, parse_schema(writer), {**make_cdr(4), "switch_vendor": "acme"})
    decoder = AvroDecoder(InMemorySchemaRegistry({version_id: json.dumps(writer)}))
    # When decoded
    fields = decoder.decode(gsr.frame(buffer.getvalue(), version_id))
    # Then it is the v2 reader's record: cell_id read, rat defaulted, the writer's extra field dropped
    assert fields == {**make_cdr(4), "cdr_id": None, "rat": None}


def test_a_definition_that_is_not_avro_is_an_unknown_schema_version() -> None:
    decoder = AvroDecoder(InMemorySchemaRegistry({V1_ID: '{"type": "record", "name": 5}'}))
    with pytest.raises(Rejected) as rejected:
        decoder.decode(gsr.frame(b"\x02", V1_ID))
    assert rejected.value.reason is ReasonCode.GSR_UNKNOWN_SCHEMA_VERSION


class UnreachableRegistry:
    def definition(self, schema_version_id: uuid.UUID) -> str:
        raise TransientStoreError("GetSchemaVersion: connection refused")


def test_an_unreachable_registry_defers_the_batch_from_the_first_avro_record() -> None:
    # Given JSON records, then an Avro record whose schema cannot be fetched, then more JSON
    payloads = [as_json(make_cdr(0)), as_json(make_cdr(1)), as_avro(make_cdr(2), AvroEncoder(V1_ID, 1))]
    payloads += [as_json(make_cdr(3))]
    outcome, stores = run(kinesis_event(payloads), UnreachableRegistry())
    # Then what came before it is applied and it and what follows are re-delivered, not rejected
    assert outcome.applied == 2 and not outcome.rejected and outcome.deferred == 2
    assert len(outcome.failed_sequence_numbers) == 2 and len(outputs(stores)) == 2


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_VALID_BODY = gsr.unframe(AvroEncoder(V2_ID, 2).encode({**make_cdr(9), "rat": "NR"})).body
_DECODER = AvroDecoder(registry())


@FUZZ
@given(
    header=st.sampled_from([bytes((3, 0)) + V1_ID.bytes, bytes((3, 0)) + V2_ID.bytes]),
    body=st.binary(max_size=300)
    | st.builds(
        lambda cut, noise: _VALID_BODY[:cut] + noise, st.integers(0, len(_VALID_BODY)), st.binary(max_size=8)
    ),
)
def test_any_bytes_after_a_known_header_decode_or_are_rejected_never_raise(
    header: bytes, body: bytes
) -> None:
    try:
        fields = _DECODER.decode(header + body)
    except Rejected as rejected:
        assert rejected.reason in {ReasonCode.AVRO_DECODE_ERROR, ReasonCode.UNKNOWN_SCHEMA_VERSION} or (
            rejected.reason is ReasonCode.GSR_FRAMING_ERROR and not body
        )
    else:
        assert set(JSON_FIELDS_V1) <= set(fields)


def test_a_version_id_that_reads_as_a_3gpp_file_header_is_still_avro() -> None:
    # Given a schema version id whose bytes 2-5 (the record's bytes 4-7) are a plausible 32.297 header length
    version_id = uuid.UUID(bytes=bytes((0xAB, 0xCD, 0, 0, 0, 60)) + bytes(range(10)))
    payload = as_avro(make_cdr(5), AvroEncoder(version_id, 2))
    assert ber.looks_like_ber(payload)  # what the BER sniff alone would make of it
    # When processed with that version registered, then it is decoded as Avro, not sent to the BER decoder
    outcome, stores = run(kinesis_event([payload]), InMemorySchemaRegistry({version_id: schema_text(2)}))
    assert outcome.applied == 1 and not outcome.rejected
    assert [doc["cdr"]["source_format"] for doc in outputs(stores)] == ["avro"]


_V2_WRITER = parse_schema(schema_definition(2))
_PLAIN = plain_reader(schema_definition(2))


@FUZZ
@given(
    body=st.binary(max_size=300)
    | st.builds(
        lambda cut, noise, tail: _VALID_BODY[:cut] + noise + _VALID_BODY[cut:][: len(tail)],
        st.integers(0, len(_VALID_BODY)),
        st.binary(max_size=12),
        st.binary(max_size=200),
    ),
)
def test_the_plain_reader_reads_what_fastavro_reads_or_leaves_it_to_fastavro(body: bytes) -> None:
    assert _PLAIN is not None
    got = _PLAIN(b"header" + body, len(b"header"))
    if got is None:
        return  # fastavro decides (and says why)
    stream = io.BytesIO(body)
    assert schemaless_reader(stream, _V2_WRITER, None) == got and stream.tell() == len(body)
    assert list(got) == [field["name"] for field in schema_definition(2)["fields"]]


def test_the_plain_reader_reads_a_valid_record_and_refuses_other_writers() -> None:
    assert _PLAIN is not None
    assert _PLAIN(_VALID_BODY, 0) == {**make_cdr(9), "schema_version": 2, "cdr_id": None, "rat": "NR"}
    for kind in ("double", ["int", "string"], ["null", "int", "string"], {"type": "array", "items": "int"}):
        assert plain_reader({"type": "record", "name": "X", "fields": [{"name": "f", "type": kind}]}) is None
    assert plain_reader({"type": "string"}) is None
