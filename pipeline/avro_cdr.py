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
from functools import cache
from pathlib import Path
from typing import Any, Final, NamedTuple, Protocol

from pipeline import gsr
from pipeline.config import DEFAULT_MAX_RECORD_BYTES
from pipeline.decode import Fields, Rejected
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

    def decode(self, payload: bytes) -> Fields:
        try:
            version_id, body, _ = gsr.unframe(payload, self.max_body_bytes)
        except gsr.GsrFramingError as exc:
            raise Rejected(ReasonCode.GSR_FRAMING_ERROR, str(exc)) from None
        plan = self._writers.get(version_id) or self._resolve(version_id)
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
            _WriterPlan(writer, None, defaults)
            if defaults is not None
            else _WriterPlan(writer, parse_schema(reader), {})
        )
        self._writers[version_id] = plan
        return plan


class _WriterPlan(NamedTuple):
    """How to read one writer schema's records: fastavro's resolution onto `reader`, or (reader None) the
    writer's own fields plus the reader's `defaults` for the fields it added."""

    writer: Any
    reader: Any
    defaults: dict[str, Any]


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
