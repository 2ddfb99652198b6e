"""AWS Glue Schema Registry (GSR) wire framing, shared by the handler and the load generator.

A framed record is: byte 0 the header version (3), byte 1 the compression (0 none, 5 zlib), bytes 2-17 the
schema version id (a UUID, big-endian as `uuid.UUID.bytes`), then the serialized data (Avro binary here),
zlib-compressed when byte 1 says so. This is the layout of AWS's GSR serde libraries (Java and Python).
"""

from __future__ import annotations

import uuid
import zlib
from typing import Final, NamedTuple

from pipeline.errors import PipelineError

HEADER_VERSION: Final = 3
COMPRESSION_NONE: Final = 0
COMPRESSION_ZLIB: Final = 5
COMPRESSIONS: Final = (COMPRESSION_NONE, COMPRESSION_ZLIB)
HEADER_BYTES: Final = 18  # version + compression + 16-byte UUID
_HEADER_VERSION_BYTE: Final = bytes((HEADER_VERSION,))


class GsrFramingError(PipelineError, ValueError):
    """The bytes claim GSR framing (byte 0 is 3) but its header or compressed body is wrong."""


class Unframed(NamedTuple):
    schema_version_id: uuid.UUID
    body: bytes  # the serialized record, inflated
    compression: int


def looks_framed(payload: bytes) -> bool:
    """Byte 0 is GSR's header version: no JSON ('{'), CSV (a digit), KPL (0xF3) or BER (0xA0-0xBF, or a
    32.297 file header, whose first length octet is 0 below 16 MiB) record starts with 0x03."""
    return payload[:1] == _HEADER_VERSION_BYTE


def frame(body: bytes, schema_version_id: uuid.UUID, *, compression: int = COMPRESSION_NONE) -> bytes:
    """The GSR record of serialized `body` written with the schema version `schema_version_id`."""
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression {compression} is not one of {COMPRESSIONS} (none, zlib)")
    data = zlib.compress(body) if compression == COMPRESSION_ZLIB else body
    return bytes((HEADER_VERSION, compression)) + schema_version_id.bytes + data


def unframe(payload: bytes, max_body_bytes: int | None = None) -> Unframed:
    """The schema version id and the (inflated) body of a GSR record; raises GsrFramingError.

    `max_body_bytes` bounds what a zlib body may inflate to (the handler passes CDRCAP_MAX_RECORD_BYTES, so
    a small record cannot expand into memory exhaustion); None: no bound, for callers that wrote the bytes."""
    if len(payload) < HEADER_BYTES + 1:
        raise GsrFramingError(
            f"{len(payload)} bytes: a GSR record needs a {HEADER_BYTES}-byte header and data"
        )
    if payload[0] != HEADER_VERSION:
        raise GsrFramingError(f"header version {payload[0]} is not {HEADER_VERSION}")
    compression = payload[1]
    if compression not in COMPRESSIONS:
        raise GsrFramingError(f"compression byte {compression} is neither 0 (none) nor 5 (zlib)")
    version_id = uuid.UUID(bytes=payload[2:HEADER_BYTES])
    data = payload[HEADER_BYTES:]
    if compression == COMPRESSION_ZLIB:
        data = inflate(data, max_body_bytes)
    return Unframed(version_id, data, compression)


def inflate(data: bytes, max_body_bytes: int | None) -> bytes:
    """A zlib body, inflated to at most `max_body_bytes` (None: unbounded); raises GsrFramingError."""
    inflater = zlib.decompressobj()
    try:
        body = inflater.decompress(data, max_body_bytes or 0)  # 0: unbounded
    except zlib.error as exc:
        raise GsrFramingError(f"the zlib body does not inflate: {exc}") from None
    if inflater.unconsumed_tail:
        raise GsrFramingError(f"the zlib body inflates past {max_body_bytes} bytes")
    if not inflater.eof:
        raise GsrFramingError("the zlib body is truncated")
    return body
