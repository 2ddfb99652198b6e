"""A scripted Kinesis PutRecords endpoint on loopback (HTTP/1.1 keep-alive) for the transport tests.

Each entry is throttled on its first `throttles(data)` sends; call number N (1-based) can instead get a
whole-call answer from `call_script`: ("throttle",) -> HTTP 400 ProvisionedThroughputExceededException,
("status", code) -> that status with an InternalFailure body, ("reset",) -> the connection is closed
without an answer. The answers depend only on the data and the call number, so two transports sending
the same records in the same order get the same answers.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ScriptedKinesis(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, throttles: Callable[[bytes], int], call_script: dict[int, tuple[Any, ...]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.throttles = throttles
        self.call_script = call_script
        self.lock = threading.Lock()
        self.calls = 0
        self.sends: Counter[bytes] = Counter()
        self.stored: list[bytes] = []
        self.authorizations: list[str] = []
        self.connections = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedKinesis
    protocol_version = "HTTP/1.1"

    def log_message(self, *_: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def _answer(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server = self.server
        with server.lock:
            server.calls += 1
            server.authorizations.append(self.headers.get("Authorization", ""))
            script = server.call_script.get(server.calls)
            if script is None:
                results = []
                for record in request["Records"]:
                    data = base64.b64decode(record["Data"])
                    server.sends[data] += 1
                    if server.sends[data] <= server.throttles(data):
                        results.append(
                            {
                                "ErrorCode": "ProvisionedThroughputExceededException",
                                "ErrorMessage": "Rate exceeded for shard shardId-000000000000",
                            }
                        )
                    else:
                        server.stored.append(data)
                        results.append({"SequenceNumber": str(len(server.stored)), "ShardId": "shardId-0"})
        if script is None:
            failed = sum("ErrorCode" in r for r in results)
            self._answer(200, {"FailedRecordCount": failed, "Records": results})
        elif script[0] == "throttle":
            self._answer(
                400, {"__type": "ProvisionedThroughputExceededException", "message": "Rate exceeded"}
            )
        elif script[0] == "status":
            self._answer(script[1], {"__type": "InternalFailure", "message": "try again"})
        else:  # reset: no answer at all
            self.close_connection = True


@contextmanager
def scripted_kinesis(
    throttles: Callable[[bytes], int], call_script: dict[int, tuple[Any, ...]] | None = None
) -> Iterator[ScriptedKinesis]:
    server = ScriptedKinesis(throttles, call_script or {})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
