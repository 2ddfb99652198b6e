"""Every output of the handler for GSR-framed Avro records, byte for byte: the guard of its speed-ups.

Benchmark-shaped synthesized CDRs (v2 writer, plain and zlib), hand-made ones from v1 and v2 writers, a
writer that needs Avro resolution (a promoted int, an extra field), KPL-aggregated Avro, and every way a
record fails: bad header, compression byte, truncated or corrupt zlib, a zlib body past the size cap, an
unknown or unregistered schema version, bodies that do not decode (short, bad union index, bytes left over),
an unknown `schema_version` field, and a bad value in the fields validation checks. The digests were taken
before the Avro decoding speed-ups (main at 7cbcfd8). A change of any output byte, reason code, DLQ body,
aggregate or outcome count changes them.
"""

from __future__ import annotations

import io
import json
import uuid
import zlib
from typing import Any

from fastavro import parse_schema, schemaless_writer

from loadgen.options import format_weights
from loadgen.synth import CdrSynthesizer, SynthConfig
from loadgen.synth.config import DefectRates, FraudRates
from pipeline import gsr
from pipeline.avro_cdr import AvroEncoder, InMemorySchemaRegistry, schema_definition, schema_text
from pipeline.config import load_config
from pipeline.processor import BatchProcessor
from pipeline.stores import (
    in_memory_stores,
)
from tests.support.golden import batch_output_digests
from tests.support.pipeline_events import NOW_MS, PIPELINE_ENV, as_avro, as_kpl, make_cdr

V1_ID = uuid.UUID("11111111-2222-3333-4444-555555555555")
V2_ID = uuid.UUID("66666666-7777-8888-9999-aaaaaaaaaaaa")
PROMOTED_ID = uuid.UUID("77777777-0000-4000-8000-000000000001")
UNKNOWN_ID = uuid.UUID("00000000-0000-0000-0000-0000000000ff")
NOT_AVRO_ID = uuid.UUID("00000000-0000-0000-0000-0000000000fe")
CLEAN = {
    "fraud": FraudRates.none(),
    "defects": DefectRates(**dict.fromkeys(DefectRates().as_dict(), 0.0)),
}


def _promoted_writer() -> dict[str, Any]:
    writer = schema_definition(1)
    next(f for f in writer["fields"] if f["name"] == "cell_id")["type"] = "int"
    writer["fields"].append({"name": "switch_vendor", "type": "string", "default": ""})
    return writer


def registry() -> InMemorySchemaRegistry:
    return InMemorySchemaRegistry(
        {
            V1_ID: schema_text(1),
            V2_ID: schema_text(2),
            PROMOTED_ID: json.dumps(_promoted_writer()),
            NOT_AVRO_ID: '{"type": "record", "name": 5}',
        }
    )


def synthesized(compression: int, seed: int) -> list[bytes]:
    config = SynthConfig(subscribers=5_000, **CLEAN, **format_weights("avro=1"))
    encoder = AvroEncoder(V2_ID, 2, compression=compression)
    return CdrSynthesizer(config, seed=seed, avro_encoder=encoder).batch(300, at_epoch_s=NOW_MS // 1000 - 600)


def _promoted(i: int) -> bytes:
    buffer = io.BytesIO()
    schemaless_writer(buffer, parse_schema(_promoted_writer()), {**make_cdr(i), "switch_vendor": "acme"})
    return gsr.frame(buffer.getvalue(), PROMOTED_ID)


INVALID_VALUES: list[dict[str, Any]] = [
    {"calling_number": "abc"},
    {"called_number": ""},
    {"duration_s": -5},
    {"release_time": "2026-11-18T07:00:00"},
    {"seizure_time": "2026-11-18 08:00:00"},
    {"seizure_time": "yesterday"},
    {"utc_offset": "+25:00"},
    {"record_type": "VOICE"},
    {"mcc": "31"},
    {"mnc": "x"},
    {"imsi": "123"},
    {"imei": "not-an-imei"},
    {"cdr_id": ""},
    {"cdr_id": "x" * 300},
    {"msc_id": ""},
    {"call_reference": ""},
    {"bytes_up": -1},
    {"seizure_time": "2019-01-01T00:00:00", "answer_time": None, "release_time": "2019-01-01T00:01:00"},
    {"seizure_time": "2099-01-01T00:00:00", "answer_time": None, "release_time": "2099-01-01T00:01:00"},
    {"answer_time": None, "duration_s": 60},
    {"record_type": "SMS_MO", "called_number": "VODAFONE"},
    {"calling_number": "VODAFONE"},
    {"sequence": -1},
    {"cell_id": -3},
    {"schema_version": 7},
]


def hand_made() -> list[bytes]:
    v1, v2 = AvroEncoder(V1_ID, 1), AvroEncoder(V2_ID, 2)
    v2z = AvroEncoder(V2_ID, 2, compression=gsr.COMPRESSION_ZLIB)
    good = [as_avro(make_cdr(1000 + i), (v1, v2, v2z)[i % 3]) for i in range(30)]
    good += [as_avro(make_cdr(1100 + i, rat=rat), v2) for i, rat in enumerate(("GERAN", "UTRAN", "NR", None))]
    good += [_promoted(1200 + i) for i in range(5)]
    good.append(as_kpl([as_avro(make_cdr(1300 + i), (v1, v2z)[i % 2]) for i in range(4)]))
    bad_values = [
        as_avro(make_cdr(1400 + i, **over), (v1, v2, v2z)[i % 3]) for i, over in enumerate(INVALID_VALUES)
    ]
    bad_values += [as_avro(make_cdr(1450, rat="6G"), v2), as_avro(make_cdr(1451, rat=""), v2z)]
    body = gsr.unframe(as_avro(make_cdr(1500), v2)).body
    zbody = zlib.compress(body)
    broken = [
        bytes((3,)),
        bytes((3, 0)) + V2_ID.bytes,
        bytes((3, 9)) + V2_ID.bytes + body,
        bytes((3, 5)) + V2_ID.bytes + b"not zlib at all",
        bytes((3, 5)) + V2_ID.bytes + zbody[:-6],
        bytes((3, 5)) + V2_ID.bytes + zlib.compress(b"\x00" * 200_000),
        gsr.frame(body, UNKNOWN_ID),
        gsr.frame(body, UNKNOWN_ID),
        gsr.frame(body, NOT_AVRO_ID),
        gsr.frame(body[:7], V2_ID),
        gsr.frame(b"\x02", V1_ID),
        gsr.frame(body + b"\x00\x00", V2_ID),
        gsr.frame(body + b"\x01", V2_ID, compression=gsr.COMPRESSION_ZLIB),
        gsr.frame(b"\x0e" + body[1:], V2_ID),
        gsr.frame(body[:2] + b"\x09" + body[3:], V2_ID),
        gsr.frame(b"\xff" * 40, V2_ID),
    ]
    duplicate = [good[0], good[4]]
    return [*good, *bad_values, *broken, *duplicate]


def payloads() -> list[bytes]:
    return [*synthesized(gsr.COMPRESSION_NONE, 7), *hand_made(), *synthesized(gsr.COMPRESSION_ZLIB, 8)]


def digests() -> dict[str, str]:
    stores = in_memory_stores()
    processor = BatchProcessor(load_config(PIPELINE_ENV), stores, schemas=registry())
    return batch_output_digests(processor, stores, payloads())


GOLDEN: dict[str, str] = {
    "outcomes": "9869d8e9b974de5e",
    "output": "aaebc80bb8be645c",
    "dlq": "bcca051f8543649e",
    "aggregates": "8abffee9168b3d80",
}


def test_every_avro_output_is_byte_identical_to_the_golden_run() -> None:
    assert digests() == GOLDEN
