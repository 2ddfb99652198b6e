"""What the limits proxy does with each Kinesis request: route records to shards, spend tokens, answer.

PutRecords entries over a shard's write budget get AWS's per-record error and are not forwarded (only the
admitted subset goes on, and the answers are merged back in the original order); over-limit
PutRecord/GetRecords get AWS's 400 error; everything else is forwarded unchanged.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

import orjson

from infra.local.kinesis_metrics import KinesisMetrics
from infra.local.shard_limits import ShardBuckets, ShardMap, ShardRates, hash_key_of

TARGET_PREFIX = "Kinesis_20131202."
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
THROTTLED = "ProvisionedThroughputExceededException"
DEFAULT_ACCOUNT = "000000000000"  # MiniStack's account id
SHARD_MAP_TTL_S = 5.0  # reshards done behind the proxy's back are picked up this fast
RESHARD_OPERATIONS = frozenset(
    {"CreateStream", "DeleteStream", "UpdateShardCount", "SplitShard", "MergeShards"}
)
ITERATOR_MEMORY = 100_000  # shard iterators remembered for routing GetRecords to a shard
HOP_HEADERS = frozenset({"host", "content-length", "connection", "transfer-encoding", "keep-alive"})

Response = tuple[int, list[tuple[str, str]], bytes]


def stream_name_of(request: dict[str, Any]) -> str:
    if request.get("StreamName"):
        return str(request["StreamName"])
    return str(request.get("StreamARN", "")).rsplit("/", 1)[-1]


def decoded_length(b64: str) -> int:
    padding = 2 if b64.endswith("==") else 1 if b64.endswith("=") else 0
    return len(b64) * 3 // 4 - padding


def throttle_message(shard_id: str, stream: str) -> str:
    return f"Rate exceeded for shard {shard_id} in stream {stream} under account {DEFAULT_ACCOUNT}."


class Upstream:
    """One keep-alive connection to the emulator per proxy thread."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self._local = threading.local()

    def request(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        for attempt in (1, 2):  # a kept-alive connection the emulator closed is retried once
            connection = getattr(self._local, "connection", None)
            if connection is None:
                connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
                connection.connect()
                # As urllib3 does: without it, Nagle holds the body's last segment for the delayed ACK.
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._local.connection = connection
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                return response.status, response.getheaders(), payload
            except (http.client.HTTPException, OSError):
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class LimitState:
    """Shard maps, buckets and iterator routing shared by all proxy threads."""

    def __init__(self, upstream: Upstream, rates: ShardRates) -> None:
        self.upstream = upstream
        self.rates = rates
        self._lock = threading.Lock()
        self._maps: dict[str, tuple[float, ShardMap]] = {}
        self._buckets: dict[tuple[str, str], ShardBuckets] = {}
        self._iterators: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def buckets(self, stream: str, shard_id: str) -> ShardBuckets:
        key = (stream, shard_id)
        with self._lock:
            found = self._buckets.get(key)
            if found is None:
                found = self._buckets[key] = ShardBuckets(self.rates)
            return found

    def invalidate(self, stream: str) -> None:
        with self._lock:
            self._maps.pop(stream, None)

    def shard_map(self, stream: str, headers: dict[str, str], *, refresh: bool = False) -> ShardMap:
        with self._lock:
            cached = self._maps.get(stream)
        if cached and not refresh and time.monotonic() - cached[0] < SHARD_MAP_TTL_S:
            return cached[1]
        shards: list[dict[str, Any]] = []
        body: dict[str, Any] = {"StreamName": stream}
        list_headers = {**headers, "X-Amz-Target": TARGET_PREFIX + "ListShards"}
        while True:
            status, _, payload = self.upstream.request("POST", "/", list_headers, orjson.dumps(body))
            if status != 200:
                return ShardMap([])  # unknown stream: let the emulator answer the real request
            page = orjson.loads(payload)
            shards += page.get("Shards", [])
            if not page.get("NextToken"):
                break
            body = {"NextToken": page["NextToken"]}
        shard_map = ShardMap.from_list_shards(shards)
        with self._lock:
            self._maps[stream] = (time.monotonic(), shard_map)
        return shard_map

    def remember_iterator(self, iterator: str | None, stream: str, shard_id: str) -> None:
        if not iterator:
            return
        with self._lock:
            self._iterators[iterator] = (stream, shard_id)
            if len(self._iterators) > ITERATOR_MEMORY:
                self._iterators.popitem(last=False)

    def iterator_shard(self, iterator: str) -> tuple[str, str] | None:
        with self._lock:
            return self._iterators.get(iterator)

    def route(self, stream: str, headers: dict[str, str], records: list[dict[str, Any]]) -> list[str | None]:
        """The shard of each record; one refresh when a key falls outside the cached ranges."""
        shard_map = self.shard_map(stream, headers)
        keys = [hash_key_of(r.get("PartitionKey", ""), r.get("ExplicitHashKey")) for r in records]
        shards = [shard_map.shard_for(k) for k in keys]
        if None in shards:
            shard_map = self.shard_map(stream, headers, refresh=True)
            shards = [shard_map.shard_for(k) for k in keys]
        return shards

    def admit_writes(
        self, stream: str, records: list[dict[str, Any]], shards: list[str | None]
    ) -> list[bool]:
        admitted = [True] * len(records)
        by_shard: dict[str, list[int]] = {}
        for index, shard_id in enumerate(shards):
            if shard_id is not None:
                by_shard.setdefault(shard_id, []).append(index)
        for shard_id, indexes in by_shard.items():
            buckets = self.buckets(stream, shard_id)
            with buckets.lock:
                for index in indexes:
                    record = records[index]
                    size = decoded_length(record.get("Data", "")) + len(
                        record.get("PartitionKey", "").encode("utf-8")
                    )
                    admitted[index] = buckets.admit_write(size)
        return admitted


def error_response(error_type: str, message: str) -> Response:
    body = orjson.dumps({"__type": error_type, "message": message})
    headers = [
        ("Content-Type", JSON_CONTENT_TYPE),
        ("x-amzn-RequestId", str(uuid.uuid4())),
        ("x-amzn-ErrorType", error_type),
    ]
    return 400, headers, body


def json_response(document: dict[str, Any]) -> Response:
    headers = [("Content-Type", JSON_CONTENT_TYPE), ("x-amzn-RequestId", str(uuid.uuid4()))]
    return 200, headers, orjson.dumps(document)


class KinesisLimiter:
    """Decides, per Kinesis operation, what to answer locally and what to forward."""

    def __init__(self, state: LimitState, metrics: KinesisMetrics | None = None) -> None:
        self.state = state
        self.metrics = metrics

    def _count_writes(self, stream: str, records: list[dict[str, Any]], admitted: list[bool]) -> None:
        if self.metrics is None:
            return
        sizes = [decoded_length(r.get("Data", "")) for r, ok in zip(records, admitted, strict=True) if ok]
        self.metrics.writes(stream, len(sizes), sum(sizes), len(records) - len(sizes))

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        target = headers.get("X-Amz-Target", headers.get("x-amz-target", ""))
        if not target.startswith(TARGET_PREFIX):
            return self.state.upstream.request(method, path, headers, body)
        if "cbor" in headers.get("Content-Type", headers.get("content-type", "")):
            return error_response(
                "SerializationException",
                "the cdrcap limits proxy speaks Kinesis JSON 1.1 only; disable CBOR in the client "
                "(AWS_CBOR_DISABLE=true for the Java SDK)",
            )
        operation = target[len(TARGET_PREFIX) :]
        request = orjson.loads(body) if body else {}
        if operation == "PutRecords":
            return self.put_records(path, headers, body, request)
        if operation == "PutRecord":
            return self.put_record(path, headers, body, request)
        if operation == "GetRecords":
            return self.get_records(path, headers, body, request)
        response = self.state.upstream.request(method, path, headers, body)
        if operation == "GetShardIterator" and response[0] == 200:
            iterator = orjson.loads(response[2]).get("ShardIterator")
            self.state.remember_iterator(iterator, stream_name_of(request), str(request.get("ShardId")))
        elif operation in RESHARD_OPERATIONS:
            self.state.invalidate(stream_name_of(request))
        return response

    def put_records(
        self, path: str, headers: dict[str, str], body: bytes, request: dict[str, Any]
    ) -> Response:
        stream = stream_name_of(request)
        records: list[dict[str, Any]] = request.get("Records") or []
        shards = self.state.route(stream, headers, records)
        admitted = self.state.admit_writes(stream, records, shards)
        self._count_writes(stream, records, admitted)
        if all(admitted):
            return self.state.upstream.request("POST", path, headers, body)
        results: list[dict[str, Any]] = [
            {"ErrorCode": THROTTLED, "ErrorMessage": throttle_message(str(shards[i]), stream)}
            for i in range(len(records))
        ]
        admitted_indexes = [i for i, ok in enumerate(admitted) if ok]
        failed = len(records) - len(admitted_indexes)
        document: dict[str, Any] = {}
        if admitted_indexes:
            subset = {**request, "Records": [records[i] for i in admitted_indexes]}
            status, upstream_headers, payload = self.state.upstream.request(
                "POST", path, headers, orjson.dumps(subset)
            )
            if status != 200:
                return status, upstream_headers, payload
            document = orjson.loads(payload)
            for index, result in zip(admitted_indexes, document.get("Records", []), strict=False):
                results[index] = result
            failed += int(document.get("FailedRecordCount", 0))
        document.update({"FailedRecordCount": failed, "Records": results})
        return json_response(document)

    def put_record(
        self, path: str, headers: dict[str, str], body: bytes, request: dict[str, Any]
    ) -> Response:
        stream = stream_name_of(request)
        shards = self.state.route(stream, headers, [request])
        admitted = self.state.admit_writes(stream, [request], shards)
        self._count_writes(stream, [request], admitted)
        if not admitted[0]:
            return error_response(THROTTLED, throttle_message(str(shards[0]), stream))
        return self.state.upstream.request("POST", path, headers, body)

    def get_records(
        self, path: str, headers: dict[str, str], body: bytes, request: dict[str, Any]
    ) -> Response:
        located = self.state.iterator_shard(str(request.get("ShardIterator", "")))
        if located is None:  # an iterator this proxy never handed out: nothing to account it to
            return self.state.upstream.request("POST", path, headers, body)
        stream, shard_id = located
        buckets = self.state.buckets(stream, shard_id)
        with buckets.lock:
            allowed = buckets.admit_read()
        if not allowed:
            if self.metrics is not None:
                self.metrics.read_throttled(stream)
            return error_response(THROTTLED, throttle_message(shard_id, stream))
        response = self.state.upstream.request("POST", path, headers, body)
        if response[0] == 200:
            document = orjson.loads(response[2])
            read_bytes = sum(decoded_length(r.get("Data", "")) for r in document.get("Records", []))
            with buckets.lock:
                buckets.read_bytes.take_debt(read_bytes)
            if self.metrics is not None:
                self.metrics.read(stream, document.get("Records", []))
            self.state.remember_iterator(document.get("NextShardIterator"), stream, shard_id)
        return response
