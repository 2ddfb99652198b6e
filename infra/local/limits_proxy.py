"""A loopback HTTP proxy in front of the emulator's Kinesis API that enforces AWS's per-shard limits.

No emulator throttles, so without this a load test never sees ProvisionedThroughputExceededException.
PutRecords entries over a shard's write budget get AWS's per-record error and are not forwarded; the rest
go through. Over-limit PutRecord/GetRecords get AWS's 400 error. Everything else passes through unchanged.
boto3 speaks JSON 1.1 to Kinesis (`X-Amz-Target: Kinesis_20131202.<Op>`); CBOR clients (the Java SDK's
default) are refused with a message that says how to switch them to JSON.

Run: `python -m infra.local.limits_proxy --upstream http://127.0.0.1:4566 --port 4567 --scale 0.1`.
"""

from __future__ import annotations

import argparse
import http.client
import signal
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from infra.aws import Target, client
from infra.local.cloudwatch_sink import CloudWatchSink
from infra.local.kinesis_limiter import HOP_HEADERS, KinesisLimiter, LimitState, Upstream
from infra.local.kinesis_metrics import KinesisMetrics
from infra.local.shard_limits import ShardRates


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: boto3 reuses its connections
    server: LimitsProxyServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds ~40 ms to each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        try:
            status, response_headers, payload = self.server.limiter.handle(
                self.command, self.path, headers, body
            )
        except (OSError, http.client.HTTPException) as error:
            status, response_headers, payload = 502, [("Content-Type", "text/plain")], str(error).encode()
        self.send_response(status)
        for name, value in response_headers:
            if name.lower() not in HOP_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_GET = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would cost more than the proxying


class LimitsProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(
        self,
        port: int,
        upstream_url: str,
        scale: float,
        host: str = "127.0.0.1",
        *,
        publish_metrics: bool = False,
        region: str = "us-east-1",
    ) -> None:
        # AWS/Kinesis stream metrics to the emulator's CloudWatch, flushed from a background thread.
        self.cloudwatch: CloudWatchSink | None = None
        if publish_metrics:
            emulator = Target(name="local", region=region, endpoint_url=upstream_url, is_local=True)
            self.cloudwatch = CloudWatchSink(client(emulator, "cloudwatch")).start()
        metrics = KinesisMetrics(self.cloudwatch) if self.cloudwatch is not None else None
        self.limiter = KinesisLimiter(LimitState(Upstream(upstream_url), ShardRates.scaled(scale)), metrics)
        super().__init__((host, port), ProxyHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start_in_thread(self) -> threading.Thread:
        """Serve from a daemon thread (tests, benchmarks); stop with `shutdown()` then `server_close()`."""
        thread = threading.Thread(target=self.serve_forever, name="limits-proxy", daemon=True)
        thread.start()
        return thread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--upstream", required=True, help="the emulator's URL")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument(
        "--publish-metrics",
        action="store_true",
        help="publish AWS/Kinesis metrics to the upstream's CloudWatch",
    )
    args = parser.parse_args(argv)
    server = LimitsProxyServer(
        args.port, args.upstream, args.scale, publish_metrics=args.publish_metrics, region=args.region
    )
    # SIGTERM from `cdrcap down` ends serve_forever cleanly; shutdown() must come from another thread.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if server.cloudwatch is not None:
            server.cloudwatch.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
