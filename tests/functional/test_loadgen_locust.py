"""1 Locust master + 2 workers (subprocesses on loopback) against the real emulator, read back.

Three runs: straight into the emulator (nothing throttled: offered = accepted = the stream); through the
real local stack's limits proxy scaled down to 50 records/s on one shard (real throttles, counted,
retried, and the stream holds exactly the accepted records); and through a fake proxy that throttles a
known share of entries, the one place the producer's throttle count can be compared with the exact number
of throttles given (the real proxy does not count them).
"""

import csv
import json
import random
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from capacity.quotas import SHARD_WRITE_BYTES_PER_S, SHARD_WRITE_RECORDS_PER_S
from infra.aws import Target
from infra.local.stack import LocalStack, LocalStackConfig, StackInfo
from loadgen.runner import run_load
from tests.support.emulator_pipeline import STREAM, records_in_stream
from tests.support.local_handlers import OUT_ENV
from tests.support.local_stack import TEMPLATE, two_free_ports


class ThrottlingProxy(ThreadingHTTPServer):
    """Forwards Kinesis calls to the emulator; answers a share of PutRecords entries with a throttle
    instead of forwarding them (what the limits proxy does when a shard is over its limit)."""

    def __init__(self, upstream: str, throttle_share: float) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream
        self.throttle_share = throttle_share
        self.rng = random.Random(7)
        self.lock = threading.Lock()
        self.throttled_entries = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    server: ThrottlingProxy

    def log_message(self, *_):
        pass

    def _forward(self, body: bytes) -> tuple[int, bytes]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "host")}
        request = urllib.request.Request(
            self.server.upstream + self.path, data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status, reply = 200, b""
        if self.headers.get("X-Amz-Target", "").endswith(".PutRecords"):
            request = json.loads(body)
            with self.server.lock:
                throttle = [self.server.rng.random() < self.server.throttle_share for _ in request["Records"]]
                self.server.throttled_entries += sum(throttle)
            passed = [r for r, t in zip(request["Records"], throttle, strict=True) if not t]
            results = iter([])
            if passed:
                status, reply = self._forward(json.dumps({**request, "Records": passed}).encode())
                results = iter(json.loads(reply)["Records"]) if status == 200 else iter([])
            if status == 200:
                merged = [
                    {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded"}
                    if t
                    else next(results)
                    for t in throttle
                ]
                reply = json.dumps(
                    {"FailedRecordCount": sum("ErrorCode" in r for r in merged), "Records": merged}
                ).encode()
        else:
            status, reply = self._forward(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


@pytest.fixture
def stream(clean_emulator, aws_session):
    kinesis = aws_session.client("kinesis", endpoint_url=clean_emulator.endpoint_url)
    kinesis.create_stream(StreamName=STREAM, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=STREAM, WaiterConfig={"Delay": 0.2})
    return kinesis


@pytest.fixture
def proxy(clean_emulator):
    server = ThrottlingProxy(clean_emulator.endpoint_url, throttle_share=0.2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _run(endpoint: str, tmp_path):
    target = Target(name="local", endpoint_url=endpoint, kinesis_endpoint_url=endpoint, is_local=True,
                    allowed_streams=(STREAM,))  # fmt: skip
    return run_load(target, STREAM, "step", 300.0, 8.0, tmp_path / "run",
                    users=4, workers=2, subscribers=20_000, echo=lambda _: None)  # fmt: skip


def _retry_requests_accepted(result) -> int:
    """Records accepted by retry calls, from Locust's own stats (response_length = records accepted)."""
    with (result.run_dir / "data" / "locust_stats.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["Name"] == "PutRecords (retry)"]
    return sum(round(int(r["Request Count"]) * float(r["Average Content Size"])) for r in rows)


def _column_sums(result) -> dict[str, int]:
    with result.seconds_path.open() as handle:
        rows = list(csv.DictReader(handle))
    return {name: sum(int(r[name]) for r in rows) for name in ("offered", "accepted", "throttled", "retried")}


def test_distributed_step_load_offered_equals_what_the_stream_holds(clean_emulator, stream, tmp_path):
    # Given a 2-shard stream, When 1 master + 2 workers run an 8 s step load up to 300 records/s
    result = _run(clean_emulator.endpoint_url, tmp_path)
    totals = result.totals
    # Then every offered record was accepted, the stream holds exactly those, and the seconds add up
    assert totals["offered"] > 1_000
    assert totals["offered"] == totals["accepted"] == records_in_stream(stream)
    assert _column_sums(result) == {k: totals[k] for k in ("offered", "accepted", "throttled", "retried")}
    assert (result.run_dir / "labels.csv").exists()


def test_throttled_entries_are_counted_retried_and_never_counted_as_sent(
    clean_emulator, stream, proxy, tmp_path
):
    # Given a proxy throttling 20 % of PutRecords entries, When the same distributed load runs through it
    result = _run(proxy.url, tmp_path)
    totals = result.totals
    # Then the producer counted exactly the throttles the proxy gave, retried them, and the stream holds
    # exactly the accepted records: offered = accepted + dropped
    assert totals["throttled"] == proxy.throttled_entries > 0
    assert totals["retried"] >= totals["throttled"] - totals["dropped"]
    assert totals["offered"] == totals["accepted"] + totals["dropped"]
    assert records_in_stream(stream) == totals["accepted"]
    assert _column_sums(result)["throttled"] == totals["throttled"]


SCALE = 0.05  # one shard of 50 records/s (and 51 KiB/s): the step load below goes over it


@pytest.fixture
def local_stack(tmp_path: Path) -> Iterator[StackInfo]:
    (tmp_path / "out").mkdir()
    stack = LocalStack(tmp_path / "state")
    config = LocalStackConfig(shards=1, scale=SCALE, port=two_free_ports(), template_path=str(TEMPLATE),
                              handler="tests.support.local_handlers.record",
                              handler_env={OUT_ENV: str(tmp_path / "out")})  # fmt: skip
    info = stack.up(config)
    try:
        yield info
    finally:
        stack.down()


def test_the_real_limits_proxy_throttles_are_counted_retried_and_the_stream_holds_the_accepted(
    local_stack: StackInfo, tmp_path
):
    # Given the local stack with one shard scaled to 50 records/s, written through its limits proxy
    info = local_stack
    shard_limits = (SHARD_WRITE_RECORDS_PER_S * SCALE, SHARD_WRITE_BYTES_PER_S * SCALE)
    # When 1 master + 2 workers run a 10 s step load up to 100 records/s (steps 25, 50, 75, 100)
    result = run_load(info.target(), info.input_stream_name, "step", 100.0, 10.0, tmp_path / "run",
                      users=4, workers=2, max_attempts=10, subscribers=20_000, shard_limits=shard_limits,
                      echo=lambda _: None)  # fmt: skip
    totals = result.totals
    # Then throttles were counted and retried, and retries got records accepted
    assert totals["throttled"] > 0
    assert totals["retried"] >= totals["throttled"] - totals["dropped"]
    assert _retry_requests_accepted(result) > 0
    # And every offered record ended accepted or dropped, and the stream (read from the emulator, not
    # through the proxy) holds exactly the accepted ones; the per-second rows add up to the totals
    emulator_kinesis = boto3.client("kinesis", endpoint_url=info.endpoint_url, region_name=info.region,
                                    aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
    assert totals["offered"] > 500
    assert totals["offered"] - totals["dropped"] == totals["accepted"]
    assert records_in_stream(emulator_kinesis, info.input_stream_name) == totals["accepted"]
    assert _column_sums(result) == {k: totals[k] for k in ("offered", "accepted", "throttled", "retried")}
