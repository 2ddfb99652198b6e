"""How the producer's PutRecords calls reach Kinesis: `FastTransport` (default) or `Boto3Transport`.

Both answer the same question for one call: the ErrorCode of each entry (None = accepted), or
`CallFailed(code)` when the whole call failed (HTTP 400 ProvisionedThroughputExceeded, 5xx, a reset
connection). The producer's accounting and retries sit above this, identical for both.

The fast transport exists because botocore's per-call work (parameter validation, serialisation through
the service model, the generic SigV4 signer, the event hooks) is the producer's ceiling: it builds the JSON
body directly (orjson, base64 of the data), signs it with a cached key (loadgen.sigv4) and sends it over
kept-alive http.client connections, parsing only FailedRecordCount and the per-entry ErrorCode.
"""

from __future__ import annotations

import binascii
import http.client
import select
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from infra.aws import Target, client, session_for
from loadgen.errors import LoadConfigError, LoadgenError
from loadgen.sigv4 import Credentials, SigV4Signer

Entry = tuple[bytes, str]  # (data, partition key)
TRANSPORTS = ("fast", "boto3")
PUT_RECORDS_TARGET = "Kinesis_20131202.PutRecords"
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
MAX_IDLE_CONNECTIONS = 32
# botocore's retries={"max_attempts": n} counts RE-tries: 0 is one attempt. It must not retry behind the
# producer's back (it would on a whole-call throttle, a 5xx or a reset), or those would go uncounted.
NO_BOTOCORE_RETRIES = 0


class CallFailed(Exception):
    """The whole PutRecords call failed; `code` is the AWS error code (or the exception / HTTP status)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class PutRecordsTransport(Protocol):
    def put_records(self, stream_name: str, entries: Sequence[Entry]) -> list[str | None]:
        """Per-entry ErrorCode in order (None = accepted); raises CallFailed if the call failed."""
        ...


class Boto3Transport:
    """PutRecords through a boto3 Kinesis client (built with botocore's retries off: NO_BOTOCORE_RETRIES)."""

    def __init__(self, kinesis: Any) -> None:
        self.kinesis = kinesis

    def put_records(self, stream_name: str, entries: Sequence[Entry]) -> list[str | None]:
        records = [{"Data": data, "PartitionKey": key} for data, key in entries]
        try:
            response = self.kinesis.put_records(StreamName=stream_name, Records=records)
        except ClientError as error:
            raise CallFailed(error.response["Error"]["Code"]) from error
        except BotoCoreError as error:
            raise CallFailed(type(error).__name__) from error
        return [result.get("ErrorCode") or None for result in response["Records"]]


def error_code(status: int, headers: http.client.HTTPMessage, payload: bytes) -> str:
    """The error code botocore would report for a failed JSON-protocol call."""
    header = headers.get("x-amzn-ErrorType")
    if header:
        return header.split(":", 1)[0].rsplit("#", 1)[-1]
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return str(status)
    code = document.get("__type") if isinstance(document, dict) else None
    return str(code).rsplit("#", 1)[-1] if code else str(status)


class FastTransport:
    """PutRecords as a hand-built, self-signed HTTP/1.1 request on a pool of kept-alive connections.

    The pool is a plain list: Locust users (greenlets) or threads each take an idle connection or open one.
    """

    def __init__(self, endpoint_url: str, region: str, credentials: Any) -> None:
        parts = urlsplit(endpoint_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LoadConfigError(f"Kinesis endpoint {endpoint_url!r} is not an http(s) URL; fix the target")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        default_port = 443 if self._https else 80
        self._path = parts.path or "/"
        host_header = self._host if self._port in (None, default_port) else f"{self._host}:{self._port}"
        self._headers = {
            "Host": host_header,
            "Content-Type": JSON_CONTENT_TYPE,
            "X-Amz-Target": PUT_RECORDS_TARGET,
        }
        self.signer = SigV4Signer(region, "kinesis", credentials)
        self._idle: list[http.client.HTTPConnection] = []

    @classmethod
    def for_target(cls, target: Target) -> FastTransport:
        """Endpoint, region and credentials as boto3 resolves them for the target (profile, env, role)."""
        session = session_for(target)
        credentials = session.get_credentials()
        if credentials is None:
            raise LoadgenError(
                f"no AWS credentials found for target {target.name!r} (profile {target.profile!r}); "
                "configure the profile, set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with a role"
            )
        kinesis = client(target, "kinesis", session=session, retries=NO_BOTOCORE_RETRIES)
        provider: Any = credentials.get_frozen_credentials  # refreshes expiring credentials itself
        return cls(kinesis.meta.endpoint_url, kinesis.meta.region_name, provider)

    def body(self, stream_name: str, entries: Sequence[Entry]) -> bytes:
        b64 = binascii.b2a_base64
        records = [{"Data": b64(data, newline=False).decode(), "PartitionKey": key} for data, key in entries]
        return orjson.dumps({"StreamName": stream_name, "Records": records})

    def put_records(self, stream_name: str, entries: Sequence[Entry]) -> list[str | None]:
        body = self.body(stream_name, entries)
        status, headers, payload = self._post(body, self.signer.sign(self._headers, body, path=self._path))
        if status != 200:
            raise CallFailed(error_code(status, headers, payload))
        try:
            document = orjson.loads(payload)
            failed = document["FailedRecordCount"]
            results = document["Records"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as error:
            raise CallFailed("MalformedResponse") from error
        if len(results) != len(entries):
            raise CallFailed("MalformedResponse")
        if not failed:
            return [None] * len(entries)
        return [result.get("ErrorCode") or None for result in results]

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, http.client.HTTPMessage, bytes]:
        try:
            connection = self._acquire()
        except OSError as error:  # refused, unreachable: nothing was sent
            raise CallFailed(type(error).__name__) from error
        try:
            connection.request("POST", self._path, body, headers)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            # Reset, refused, timed out, half a response: the call's outcome is unknown -> failed, retried.
            connection.close()
            raise CallFailed(type(error).__name__) from error
        if response.will_close or len(self._idle) >= MAX_IDLE_CONNECTIONS:
            connection.close()
        else:
            self._idle.append(connection)
        return response.status, response.headers, payload

    def _acquire(self) -> http.client.HTTPConnection:
        while self._idle:
            connection = self._idle.pop()
            sock = connection.sock
            # An idle connection the server has closed reads as ready (EOF): drop it instead of failing
            # the next call on it.
            if sock is not None and not select.select([sock], [], [], 0)[0]:
                return connection
            connection.close()
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        connection = kind(self._host, self._port, timeout=CONNECT_TIMEOUT_S)
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(READ_TIMEOUT_S)
        return connection

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


def make_transport(target: Target, kind: str) -> PutRecordsTransport:
    if kind == "fast":
        return FastTransport.for_target(target)
    if kind == "boto3":
        return Boto3Transport(client(target, "kinesis", retries=NO_BOTOCORE_RETRIES))
    raise LoadConfigError(f"transport {kind!r} is unknown; use one of {', '.join(TRANSPORTS)}")


__all__ = [
    "TRANSPORTS",
    "Boto3Transport",
    "CallFailed",
    "Credentials",
    "Entry",
    "FastTransport",
    "PutRecordsTransport",
    "error_code",
    "make_transport",
]
