"""A Kinesis-compatible PutRecords endpoint on loopback that accepts everything, for the producer benchmark.

Keep-alive HTTP/1.1; every PutRecords gets a valid JSON answer with one result per entry (the entries are
counted, not parsed, so the server stays cheap). Run it in its own process so that its CPU is not counted
against the producer: `python -m tests.benchmarks.fake_kinesis` prints its port on the first line and
serves until it is terminated.
"""

from __future__ import annotations

import socket
import socketserver
import sys
from functools import cache

ENTRY_MARKER = b'"PartitionKey"'


@cache
def put_records_response(entries: int) -> bytes:
    sequence_number = b"49654391548720263543930419375318462785651271233474674690"
    result = b'{"SequenceNumber":"' + sequence_number + b'","ShardId":"shardId-000000000000"}'
    body = b'{"FailedRecordCount":0,"Records":[' + b",".join([result] * entries) + b"]}"
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
        b"x-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    return head + body


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    return
                buffer += chunk
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            parts = [buffer]
            have = len(buffer)
            while have < length:
                chunk = sock.recv(max(length - have, 1 << 16))
                if not chunk:
                    return
                parts.append(chunk)
                have += len(chunk)
            data = b"".join(parts)
            body, buffer = data[:length], data[length:]
            sock.sendall(put_records_response(body.count(ENTRY_MARKER)))


class FakeKinesisServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main() -> int:
    with FakeKinesisServer(("127.0.0.1", 0), _Handler) as server:
        print(server.server_address[1], flush=True)
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
