"""Kinesis PutRecords producer that accounts for every CDR: offered, accepted, throttled, failed,
retried, dropped. Only the failed subset of a call is retried (jittered exponential backoff); what still
fails after the last attempt is dropped and counted as such, never as sent.

A Kinesis record may hold several CDRs (a KPL aggregate, `cdrs=` in `put`): the counts above are per CDR,
and the Kinesis records themselves are counted beside them (`kinesis_*`, what the shard limits see).
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
    cdrs: int | None = None  # CDRs in the call's records (None: one per record)
    cdrs_accepted: int | None = None

    @property
    def cdrs_sent(self) -> int:
        return self.records if self.cdrs is None else self.cdrs

    @property
    def cdrs_settled(self) -> int:
        return self.accepted if self.cdrs_accepted is None else self.cdrs_accepted


@dataclass
class PutOutcome:
    """Per-CDR accounting. Invariant: offered == accepted + dropped (each CDR ends in exactly one).

    Without aggregation a CDR is a Kinesis record and the `kinesis_*` counts equal their CDR counterparts."""

    offered: int = 0
    accepted: int = 0
    throttled: int = 0  # CDR-attempts refused for throughput (retried while attempts remain)
    failed: int = 0  # CDR-attempts refused for another reason (InternalFailure, KMS, a failed call)
    retried: int = 0  # CDR re-sends
    dropped: int = 0  # CDRs given up on after the last attempt: never counted as sent
    accepted_bytes: int = 0  # Kinesis record data accepted (aggregates: with their framing)
    kinesis_records_offered: int = 0  # Kinesis records offered (first sends)
    kinesis_records_accepted: int = 0
    kinesis_records_throttled: int = 0  # Kinesis record-attempts refused for throughput
    calls: list[CallResult] = field(default_factory=list)

    def add(self, other: PutOutcome) -> None:
        for name in COUNT_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.calls.extend(other.calls)


COUNT_FIELDS = tuple(name for name in PutOutcome.__dataclass_fields__ if name != "calls")


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
        self,
        payloads: Sequence[bytes],
        partition_keys: Sequence[str],
        *,
        outcome: PutOutcome | None = None,
        cdrs: Sequence[int] | None = None,
    ) -> PutOutcome:
        """Send the records; `outcome` (filled in place) stays consistent even if this is interrupted.

        `cdrs`: the CDRs each record holds (KPL aggregates); the CDR counts are weighted by it."""
        outcome = outcome if outcome is not None else PutOutcome()
        weights = list(cdrs) if cdrs is not None else [1] * len(payloads)
        if len(weights) != len(payloads):
            raise ValueError(f"cdrs has {len(weights)} counts for {len(payloads)} records")
        outcome.offered += sum(weights)
        outcome.kinesis_records_offered += len(payloads)
        oversized = {
            i for i, p in enumerate(payloads) if len(p) + len(partition_keys[i]) > MAX_BYTES_PER_RECORD
        }
        if oversized:
            # Kinesis would refuse the whole call: these are dropped before sending, each counted failed.
            lost = sum(weights[i] for i in oversized)
            outcome.failed += lost
            outcome.dropped += lost
            keep = [i for i in range(len(payloads)) if i not in oversized]
            entries = [(payloads[i], partition_keys[i]) for i in keep]
            weights = [weights[i] for i in keep]
        else:
            entries = list(zip(payloads, partition_keys, strict=True))
        chunks = split_calls(entries)
        offsets = [0]
        for chunk in chunks:
            offsets.append(offsets[-1] + len(chunk))
        for index, chunk in enumerate(chunks):
            try:
                self._send_with_retries(chunk, weights[offsets[index] : offsets[index + 1]], outcome)
            except BaseException:
                # Interrupted (the test stops, Ctrl-C): chunks never sent are dropped, never "sent".
                outcome.dropped += sum(weights[offsets[index + 1] :])
                raise
        self.totals.add(PutOutcome(**{**outcome.__dict__, "calls": []}))
        return outcome

    def _send_with_retries(self, chunk: list[Entry], weights: list[int], outcome: PutOutcome) -> None:
        pending, pending_weights = chunk, weights
        try:
            for attempt in range(self.retry.max_attempts):
                if attempt:
                    self._sleep(self.retry.delay_s(attempt, self._rng))
                    outcome.retried += sum(pending_weights)
                pending, pending_weights = self._send_once(pending, pending_weights, attempt, outcome)
                if not pending:
                    return
        finally:
            # Exhausted or interrupted: what is still pending was not accepted (as far as we know).
            outcome.dropped += sum(pending_weights)

    def _send_once(
        self, entries: list[Entry], weights: list[int], attempt: int, outcome: PutOutcome
    ) -> tuple[list[Entry], list[int]]:
        """One PutRecords call; returns the entries to retry and their CDR counts."""
        sent_bytes = sum(len(data) for data, _ in entries)
        sent_cdrs = sum(weights)
        start = time.perf_counter()
        try:
            codes = self.transport.put_records(self.stream_name, entries)
        except CallFailed as error:
            latency_ms = (time.perf_counter() - start) * 1000
            is_throttle = error.code in THROTTLE_CODES
            throttled, failed = (sent_cdrs, 0) if is_throttle else (0, sent_cdrs)
            outcome.throttled += throttled
            outcome.failed += failed
            outcome.kinesis_records_throttled += len(entries) if is_throttle else 0
            self._report(
                CallResult(
                    len(entries),
                    0,
                    len(entries) if is_throttle else 0,
                    0 if is_throttle else len(entries),
                    sent_bytes,
                    latency_ms,
                    attempt,
                    error.code,
                    cdrs=sent_cdrs,
                    cdrs_accepted=0,
                ),
                outcome,
            )
            return entries, weights
        latency_ms = (time.perf_counter() - start) * 1000
        retry: list[Entry] = []
        retry_weights: list[int] = []
        throttled = failed = throttled_cdrs = failed_cdrs = 0
        accepted_bytes = sent_bytes
        if any(codes):
            for entry, weight, code in zip(entries, weights, codes, strict=True):
                if not code:
                    continue
                retry.append(entry)
                retry_weights.append(weight)
                accepted_bytes -= len(entry[0])
                if code in THROTTLE_CODES:
                    throttled += 1
                    throttled_cdrs += weight
                else:
                    failed += 1
                    failed_cdrs += weight
        accepted = len(entries) - len(retry)
        accepted_cdrs = sent_cdrs - sum(retry_weights)
        outcome.accepted += accepted_cdrs
        outcome.accepted_bytes += accepted_bytes
        outcome.throttled += throttled_cdrs
        outcome.failed += failed_cdrs
        outcome.kinesis_records_accepted += accepted
        outcome.kinesis_records_throttled += throttled
        self._report(
            CallResult(
                len(entries),
                accepted,
                throttled,
                failed,
                sent_bytes,
                latency_ms,
                attempt,
                cdrs=sent_cdrs,
                cdrs_accepted=accepted_cdrs,
            ),
            outcome,
        )
        return retry, retry_weights

    def _report(self, result: CallResult, outcome: PutOutcome) -> None:
        outcome.calls.append(result)
        if self.on_call:
            self.on_call(result)
