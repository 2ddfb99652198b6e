"""Kinesis PutRecords producer that accounts for every record: offered, accepted, throttled, failed,
retried, dropped. Only the failed subset of a call is retried (jittered exponential backoff); what still
fails after the last attempt is dropped and counted as such, never as sent.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from capacity.quotas import MAX_RECORD_BYTES as MAX_BYTES_PER_RECORD
from capacity.quotas import PUT_RECORDS_MAX_BYTES as MAX_BYTES_PER_CALL
from capacity.quotas import PUT_RECORDS_MAX_RECORDS as MAX_RECORDS_PER_CALL
from infra.aws import Target
from loadgen.safety import check_stream_allowed
from loadgen.transport import Boto3Transport, CallFailed, Entry, PutRecordsTransport, make_transport

THROTTLE_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "LimitExceededException"}
)


@dataclass(frozen=True)
class CallResult:
    """One PutRecords call: what a Locust request event reports."""

    records: int
    accepted: int
    throttled: int
    failed: int
    bytes_sent: int
    latency_ms: float
    attempt: int  # 0 = first send of these entries
    error: str | None = None  # a whole-call error code


@dataclass
class PutOutcome:
    """Per-record accounting. Invariant: offered == accepted + dropped (each record ends in exactly one)."""

    offered: int = 0
    accepted: int = 0
    throttled: int = 0  # entry-attempts refused for throughput (retried while attempts remain)
    failed: int = 0  # entry-attempts refused for another reason (InternalFailure, KMS, a failed call)
    retried: int = 0  # entry re-sends
    dropped: int = 0  # records given up on after the last attempt: never counted as sent
    accepted_bytes: int = 0
    calls: list[CallResult] = field(default_factory=list)

    def add(self, other: PutOutcome) -> None:
        for name in ("offered", "accepted", "throttled", "failed", "retried", "dropped", "accepted_bytes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.calls.extend(other.calls)


def split_calls(entries: Sequence[Entry]) -> list[list[Entry]]:
    """Chunks within one PutRecords call's record count and byte limits (data + keys), in order."""
    chunks: list[list[Entry]] = []
    current: list[Entry] = []
    size = 0
    for entry in entries:
        entry_size = len(entry[0]) + len(entry[1].encode())
        if current and (len(current) == MAX_RECORDS_PER_CALL or size + entry_size > MAX_BYTES_PER_CALL):
            chunks.append(current)
            current, size = [], 0
        current.append(entry)
        size += entry_size
    if current:
        chunks.append(current)
    return chunks


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5  # first send included
    base_delay_s: float = 0.05
    max_delay_s: float = 2.0

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        # "Full jitter": spreads the retries of many producers instead of synchronising them.
        return rng.uniform(0.0, min(self.max_delay_s, self.base_delay_s * 2**attempt))


class KinesisProducer:
    """Sends records to one allowed stream of a target; one transport (connection pool) per producer.

    `transport`: "fast" (default; loadgen.transport.FastTransport), "boto3", or a PutRecordsTransport.
    `kinesis`: a boto3-like client (anything with put_records) to send through instead, e.g. a stub.
    """

    def __init__(
        self,
        target: Target,
        stream_name: str,
        *,
        transport: str | PutRecordsTransport = "fast",
        kinesis: Any = None,
        retry: RetryPolicy | None = None,
        on_call: Callable[[CallResult], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
    ) -> None:
        check_stream_allowed(target, stream_name)
        self.target = target
        self.stream_name = stream_name
        if kinesis is not None:
            self.transport: PutRecordsTransport = Boto3Transport(kinesis)
        elif isinstance(transport, str):
            self.transport = make_transport(target, transport)
        else:
            self.transport = transport
        self.retry = retry or RetryPolicy()
        self.on_call = on_call
        self._sleep = sleep
        self._rng = random.Random(seed)
        self.totals = PutOutcome()

    def put(
        self, payloads: Sequence[bytes], partition_keys: Sequence[str], *, outcome: PutOutcome | None = None
    ) -> PutOutcome:
        """Send the records; `outcome` (filled in place) stays consistent even if this is interrupted."""
        outcome = outcome if outcome is not None else PutOutcome()
        outcome.offered += len(payloads)
        oversized = [
            i for i, p in enumerate(payloads) if len(p) + len(partition_keys[i]) > MAX_BYTES_PER_RECORD
        ]
        if oversized:
            # Kinesis would refuse the whole call: these are dropped before sending, each counted failed.
            outcome.failed += len(oversized)
            outcome.dropped += len(oversized)
            skip = set(oversized)
            entries = [
                (p, k) for i, (p, k) in enumerate(zip(payloads, partition_keys, strict=True)) if i not in skip
            ]
        else:
            entries = list(zip(payloads, partition_keys, strict=True))
        chunks = split_calls(entries)
        for index, chunk in enumerate(chunks):
            try:
                self._send_with_retries(chunk, outcome)
            except BaseException:
                # Interrupted (the test stops, Ctrl-C): chunks never sent are dropped, never "sent".
                outcome.dropped += sum(len(c) for c in chunks[index + 1 :])
                raise
        self.totals.add(PutOutcome(**{**outcome.__dict__, "calls": []}))
        return outcome

    def _send_with_retries(self, chunk: list[Entry], outcome: PutOutcome) -> None:
        pending = chunk
        try:
            for attempt in range(self.retry.max_attempts):
                if attempt:
                    self._sleep(self.retry.delay_s(attempt, self._rng))
                    outcome.retried += len(pending)
                pending = self._send_once(pending, attempt, outcome)
                if not pending:
                    return
        finally:
            # Exhausted or interrupted: what is still pending was not accepted (as far as we know).
            outcome.dropped += len(pending)

    def _send_once(self, entries: list[Entry], attempt: int, outcome: PutOutcome) -> list[Entry]:
        """One PutRecords call; returns the entries to retry."""
        sent_bytes = sum(len(data) for data, _ in entries)
        start = time.perf_counter()
        try:
            codes = self.transport.put_records(self.stream_name, entries)
        except CallFailed as error:
            latency_ms = (time.perf_counter() - start) * 1000
            is_throttle = error.code in THROTTLE_CODES
            throttled, failed = (len(entries), 0) if is_throttle else (0, len(entries))
            outcome.throttled += throttled
            outcome.failed += failed
            self._report(
                CallResult(len(entries), 0, throttled, failed, sent_bytes, latency_ms, attempt, error.code),
                outcome,
            )
            return entries
        latency_ms = (time.perf_counter() - start) * 1000
        retry: list[Entry] = []
        throttled = failed = 0
        accepted_bytes = sent_bytes
        if any(codes):
            for entry, code in zip(entries, codes, strict=True):
                if not code:
                    continue
                retry.append(entry)
                accepted_bytes -= len(entry[0])
                if code in THROTTLE_CODES:
                    throttled += 1
                else:
                    failed += 1
        accepted = len(entries) - len(retry)
        outcome.accepted += accepted
        outcome.accepted_bytes += accepted_bytes
        outcome.throttled += throttled
        outcome.failed += failed
        self._report(
            CallResult(len(entries), accepted, throttled, failed, sent_bytes, latency_ms, attempt), outcome
        )
        return retry

    def _report(self, result: CallResult, outcome: PutOutcome) -> None:
        outcome.calls.append(result)
        if self.on_call:
            self.on_call(result)
