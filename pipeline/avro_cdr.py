"""Avro CDRs framed for the Glue Schema Registry: the packaged schemas and the handler's decoder.

The schemas (pipeline/schemas/cdr-v1.avsc, cdr-v2.avsc) carry the JSON v1 field names, so a decoded record
is the same `Fields` dict the JSON and CSV decoders give and goes through the same validation. v2 adds `rat`
with a null default (BACKWARD and FORWARD compatible with v1). The handler reads every record with its v2
schema as the reader's schema, resolving the writer's schema by the record's schema version id once per
container. fastavro is imported by the first Avro record only (cold start of JSON-only functions).
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Final, NamedTuple, Protocol

from pipeline import gsr
from pipeline.config import DEFAULT_MAX_RECORD_BYTES
from pipeline.decode import Fields, Rejected
from pipeline.gsr import HEADER_BYTES
from pipeline.schema import SUPPORTED_SCHEMA_VERSIONS, ReasonCode

SCHEMA_DIR: Final = Path(__file__).with_name("schemas")
SCHEMA_FILES: Final = {1: "cdr-v1.avsc", 2: "cdr-v2.avsc"}
READER_SCHEMA_VERSION: Final = 2  # the handler's own schema: every writer's record is projected onto it
# How long an unknown schema version id is answered from the cache before the registry is asked again: a
# burst of records of an unregistered version costs one GetSchemaVersion per minute, not one per record.
UNKNOWN_VERSION_RETRY_S: Final = 60.0


class UnknownSchemaVersion(Exception):
    """The registry holds no Avro schema under this version id (or the version is not available)."""


class SchemaRegistry(Protocol):
    def definition(self, schema_version_id: uuid.UUID) -> str:
        """The writer's Avro schema (JSON text) of a schema version id; raises UnknownSchemaVersion, or
        TransientStoreError when the registry cannot be reached."""
        ...


class InMemorySchemaRegistry:
    """Version id -> Avro schema text, for unit tests and benchmarks (pipeline/glue_registry.py is Glue's)."""

    def __init__(self, definitions: dict[uuid.UUID, str] | None = None) -> None:
        self.definitions = dict(definitions or {})
        self.lookups = 0

    def definition(self, schema_version_id: uuid.UUID) -> str:
        self.lookups += 1
        try:
            return self.definitions[schema_version_id]
        except KeyError:
            raise UnknownSchemaVersion(f"no schema version {schema_version_id}") from None


@cache
def schema_text(version: int) -> str:
    """The packaged Avro schema of CDR `version` (1 or 2), as registered in the schema registry."""
    return (SCHEMA_DIR / SCHEMA_FILES[version]).read_text()


def schema_definition(version: int) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(schema_text(version))
    return parsed


class AvroDecoder:
    """GSR-framed Avro payload -> wire fields; every failure is a Rejected with its reason code."""

    def __init__(
        self,
        registry: SchemaRegistry | None,
        *,
        max_body_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        clock: Any = time.monotonic,
    ) -> None:
        self.registry = registry
        self.max_body_bytes = max_body_bytes  # what a zlib body may inflate to: the record size cap
        self._clock = clock
        self._writers: dict[uuid.UUID, _WriterPlan] = {}  # version id -> how to read its records
        self._unknown_until: dict[uuid.UUID, tuple[float, str]] = {}  # version id -> (retry at, detail)
        # the 18 header bytes (version, compression, version id) -> the plain reader of that writer, defaults
        self._plain: dict[bytes, tuple[PlainReader, dict[str, Any]]] = {}

    def decode(self, payload: bytes) -> Fields:
        # The common case: a header seen before, of a writer the plain reader reads (no BytesIO, no UUID,
        # no fastavro call); whatever it does not read plainly goes the full way below for the exact reason.
        plain = self._plain.get(payload[:HEADER_BYTES])
        if plain is not None and len(payload) > HEADER_BYTES:
            reader, defaults = plain
            if payload[1] == gsr.COMPRESSION_NONE:
                record = reader(payload, HEADER_BYTES)
            else:
                try:
                    record = reader(gsr.inflate(payload[HEADER_BYTES:], self.max_body_bytes), 0)
                except gsr.GsrFramingError:
                    record = None
            if record is not None:
                if defaults:
                    record.update(defaults)
                version = record.get("schema_version")
                if version not in SUPPORTED_SCHEMA_VERSIONS:
                    raise Rejected(ReasonCode.UNKNOWN_SCHEMA_VERSION, f"schema_version {version}")
                return record
        return self._decode(payload)

    def _decode(self, payload: bytes) -> Fields:
        """Through gsr.unframe and fastavro: every record the plain reader leaves, and each header's first."""
        try:
            version_id, body, _ = gsr.unframe(payload, self.max_body_bytes)
        except gsr.GsrFramingError as exc:
            raise Rejected(ReasonCode.GSR_FRAMING_ERROR, str(exc)) from None
        plan = self._writers.get(version_id) or self._resolve(version_id)
        if plan.plain is not None:
            self._plain[payload[:HEADER_BYTES]] = (plan.plain, plan.defaults)
        from fastavro import schemaless_reader

        stream = io.BytesIO(body)
        try:
            record = schemaless_reader(stream, plan.writer, plan.reader)
        except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError, SchemaResolutionError...
            raise Rejected(
                ReasonCode.AVRO_DECODE_ERROR,
                f"schema version {version_id}: {type(exc).__name__}: {str(exc)[:120]}",
            ) from None
        if stream.tell() != len(body):
            raise Rejected(
                ReasonCode.AVRO_DECODE_ERROR,
                f"schema version {version_id}: {len(body) - stream.tell()} bytes after the record",
            )
        if not isinstance(record, dict):
            raise Rejected(ReasonCode.AVRO_DECODE_ERROR, f"schema version {version_id} is not a record")
        if plan.defaults:
            record.update(plan.defaults)
        version = record.get("schema_version")
        if version not in SUPPORTED_SCHEMA_VERSIONS:
            raise Rejected(ReasonCode.UNKNOWN_SCHEMA_VERSION, f"schema_version {version}")
        return record

    def _resolve(self, version_id: uuid.UUID) -> _WriterPlan:
        """How to read `version_id`'s records: its schema, asked of the registry once (a miss: per minute)."""
        now = self._clock()
        unknown = self._unknown_until.get(version_id)
        if unknown is not None and now < unknown[0]:
            raise Rejected(ReasonCode.GSR_UNKNOWN_SCHEMA_VERSION, unknown[1])
        if self.registry is None:
            raise Rejected(
                ReasonCode.GSR_UNKNOWN_SCHEMA_VERSION,
                f"schema version {version_id}: no schema registry is configured",
            )
        try:
            text = self.registry.definition(version_id)
        except UnknownSchemaVersion as exc:
            detail = f"schema version {version_id}: {exc}"
            self._unknown_until[version_id] = (now + UNKNOWN_VERSION_RETRY_S, detail)
            raise Rejected(ReasonCode.GSR_UNKNOWN_SCHEMA_VERSION, detail) from None
        from fastavro import parse_schema
        from fastavro.schema import SchemaParseException

        try:
            definition = json.loads(text)
            writer = parse_schema(definition)
        except (ValueError, TypeError, KeyError, SchemaParseException) as exc:
            detail = f"schema version {version_id} is not an Avro schema: {str(exc)[:120]}"
            self._unknown_until[version_id] = (now + UNKNOWN_VERSION_RETRY_S, detail)
            raise Rejected(ReasonCode.GSR_UNKNOWN_SCHEMA_VERSION, detail) from None
        reader = schema_definition(READER_SCHEMA_VERSION)
        defaults = _added_defaults(definition, reader)
        plan = (
            _WriterPlan(writer, None, defaults, plain_reader(definition))
            if defaults is not None
            else _WriterPlan(writer, parse_schema(reader), {}, None)
        )
        self._writers[version_id] = plan
        return plan


class _WriterPlan(NamedTuple):
    """How to read one writer schema's records: fastavro's resolution onto `reader`, or (reader None) the
    writer's own fields plus the reader's `defaults` for the fields it added."""

    writer: Any
    reader: Any
    defaults: dict[str, Any]
    plain: PlainReader | None  # reads the writer's records without fastavro (reader None only)


def _added_defaults(writer: Any, reader: dict[str, Any]) -> dict[str, Any] | None:
    """The reader's defaults of the fields a writer lacks, when that is all Avro's resolution would do here
    (every writer field in the reader with the same type, the added ones with plain defaults); else None.

    Why: fastavro resolves writer against reader field by field on every record, which measured ~3x the
    cost of the read itself; for our schemas' evolution (new fields with defaults) reading with the writer's
    schema and adding the defaults is the same result."""
    if not isinstance(writer, dict) or writer.get("type") != "record" or writer.get("name") != reader["name"]:
        return None
    reader_types = {field["name"]: field for field in reader["fields"]}
    for field in writer.get("fields", ()):
        known = reader_types.get(field.get("name"))
        if known is None or known["type"] != field.get("type"):
            return None
    added = [
        field for field in reader["fields"] if field["name"] not in {f["name"] for f in writer["fields"]}
    ]
    if any("default" not in field or isinstance(field["default"], dict | list) for field in added):
        return None
    return {field["name"]: field["default"] for field in added}


PlainReader = Callable[[bytes, int], Fields | None]
_PLAIN_KINDS: Final = ("int", "long", "string", "boolean")
# Source lines of one value (into `v`) at `pos` of `data`, in the generated reader. A varint's first byte
# < 0x80 inline, longer ones in _varint. Anything that is not a canonical encoding returns None.
_READ_BYTE: Final = ["b = data[pos]", "pos += 1"]
_READ_LONG: Final = [
    *_READ_BYTE,
    "if b < 128:",
    "    v = (b >> 1) ^ -(b & 1)",
    "else:",
    "    v, pos = varint(data, b, pos)",
]
_READ_VALUE: Final = {
    "int": _READ_LONG,
    "long": _READ_LONG,
    "string": [
        *_READ_LONG,
        "end = pos + v",
        "if v < 0 or end > size:",
        "    return None",
        "v = data[pos:end].decode()",
        "pos = end",
    ],
    "boolean": [*_READ_BYTE, "if b > 1:", "    return None", "v = b == 1"],
}


def plain_reader(writer: Any) -> PlainReader | None:
    """A reader of `writer`'s records for the plain case, or None when the writer is not a flat record of
    ints, longs, strings, booleans and [null, one of those] unions.

    The reader takes (data, start) and returns the record dict fastavro's schemaless_reader would return
    (the writer's fields in its order) when the bytes are a canonical encoding of exactly one record:
    varints of at most 9 bytes, union branch bytes 0/2, booleans 0/1, string lengths within the data,
    valid UTF-8, no byte left. Anything else (a short, broken or odd record) returns None, and the caller
    asks fastavro, whose verdict (and error text) is the reference. Why: fastavro reads a record through
    `fo.read` calls byte by byte, ~25 us per CDR; this function, generated for the writer's fields (one
    straight run of byte reads, no per-field dispatch), reads the bytes in place.
    """
    if not isinstance(writer, dict) or writer.get("type") != "record" or not writer.get("fields"):
        return None
    body: list[str] = []
    names: list[str] = []
    for k, field in enumerate(writer["fields"]):
        kind, name = field.get("type"), field.get("name")
        if not isinstance(name, str):
            return None
        null_byte = -1
        if isinstance(kind, list) and len(kind) == 2 and "null" in kind:
            null_byte = 2 * kind.index("null")  # branch 0 or 1, zigzag-encoded
            kind = kind[1 - kind.index("null")]
        if not isinstance(kind, str) or kind not in _PLAIN_KINDS:
            return None
        lines = _READ_VALUE[kind]
        if null_byte >= 0:
            branch = f"if b == {2 - null_byte}:"
            lines = [*_READ_BYTE, f"if b == {null_byte}:", "    v = None", f"el{branch}"]
            lines += ["    " + line for line in _READ_VALUE[kind]] + ["else:", "    return None"]
        body += [*lines, f"f{k} = v"]
        names.append(name)
    record = ", ".join(f"{name!r}: f{k}" for k, name in enumerate(names))
    source = "\n".join(
        [
            "def read(data, pos):",
            "    size = len(data)",
            "    try:",
            *("        " + line for line in body),
            "    except (IndexError, UnicodeDecodeError, NotPlain):",
            "        return None",
            "    if pos != size:",
            "        return None",
            f"    return {{{record}}}",
        ]
    )
    namespace: dict[str, Any] = {"varint": _varint, "NotPlain": _NotPlain}
    exec(compile(source, "<avro plain reader>", "exec"), namespace)  # names are repr() literals only
    reader: PlainReader = namespace["read"]
    return reader


class _NotPlain(Exception):
    """A varint past 63 bits: fastavro's reading decides."""


def _varint(data: bytes, byte: int, pos: int) -> tuple[int, int]:
    """The zigzag long whose first byte (>= 0x80) is `byte`, and the position after it."""
    value, shift = byte & 0x7F, 7
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (value >> 1) ^ -(value & 1), pos
        shift += 7
        if shift > 56:  # a 10th byte: beyond what a 64-bit long holds, fastavro decides
            raise _NotPlain


class AvroEncoder:
    """Wire fields (the JSON v1 names, as decode gives them) -> a GSR-framed Avro record of CDR `version`.

    The load generator's and the tests' writer: the handler never encodes."""

    def __init__(
        self, schema_version_id: uuid.UUID, version: int = 2, *, compression: int = gsr.COMPRESSION_NONE
    ) -> None:
        from fastavro import parse_schema

        if version not in SCHEMA_FILES:
            raise ValueError(f"CDR schema version {version} is not one of {sorted(SCHEMA_FILES)}")
        if compression not in gsr.COMPRESSIONS:
            raise ValueError(f"compression {compression} is not one of {gsr.COMPRESSIONS} (none, zlib)")
        self.schema_version_id = schema_version_id
        self.version = version
        self.compression = compression
        self._schema = parse_schema(schema_definition(version))

    def encode(self, fields: Fields) -> bytes:
        from fastavro import schemaless_writer

        buffer = io.BytesIO()
        schemaless_writer(buffer, self._schema, {**fields, "schema_version": self.version})
        return gsr.frame(buffer.getvalue(), self.schema_version_id, compression=self.compression)
