"""One batch, end to end: decode, validate, apply aggregates exactly once, emit, account for every record.

Every unit ends in exactly one place: applied (or found already applied) and emitted, rejected to the DLQ,
or — only for transient store failures — left for Lambda to re-deliver (batchItemFailures).
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import add
from typing import TYPE_CHECKING, Any

from pipeline.aggregate import Chunk, ItemKey, build_chunks
from pipeline.avro_cdr import AvroDecoder, SchemaRegistry
from pipeline.config import PipelineConfig
from pipeline.decode import Rejected, decode_payload, decode_taken_json
from pipeline.emit import archive_gzip, archive_key, dlq_message, enriched_batch
from pipeline.errors import TransientStoreError
from pipeline.events import Units, expand
from pipeline.fraud.errors import FraudError
from pipeline.schema import CanonicalCDR, ReasonCode
from pipeline.stores import Stores
from pipeline.validate import Limits, to_canonical
from pipeline.wire_json import canonical_fields, canonical_json, taken

if TYPE_CHECKING:
    from pipeline.fraud.engine import FraudEngine

MAX_CONFLICT_ROUNDS = 3  # claim conflicts resolved per chunk before it counts as transient


@dataclass(slots=True)
class BatchOutcome:
    """What happened to each unit; `failed_sequence_numbers` is what Lambda should re-deliver."""

    records_in: int = 0
    applied: int = 0
    replayed: int = 0  # already applied by an earlier delivery of the same Kinesis record
    rejected: Counter[str] = field(default_factory=Counter)
    deferred: int = 0  # left for re-delivery after a transient failure
    failed_sequence_numbers: list[str] = field(default_factory=list)
    dynamo_writes: int = 0  # items written (a transaction counts each of its items)
    dynamo_write_requests: int = 0  # the requests that carried them (a committed transaction is one)
    dynamo_write_units: int = 0
    # Writes of the most-written aggregate item in this batch: every lane's batches write the same hot items
    # (a country's minute), and one item lives on one partition (1,000 WCU/s): the planner's hot-item check.
    dynamo_hottest_item_writes: int = 0
    latencies_ms: list[int] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # file-level findings (e.g. 32.297 lost CDRs)
    fraud_alerts: int = 0  # alerts this batch sent (each (rule, subscriber, window) alerts once)
    fraud_alerts_by_rule: Counter[str] = field(default_factory=Counter)  # the same, per rule id

    def response(self) -> dict[str, list[dict[str, str]]]:
        return {"batchItemFailures": [{"itemIdentifier": seq} for seq in self.failed_sequence_numbers]}


@dataclass(slots=True)
class _Batch:
    """The working state of one invocation, indexed by unit."""

    units: Units
    cdrs: list[CanonicalCDR | None]
    positions: list[str]
    rejects: dict[int, tuple[ReasonCode, str]]
    outcome: BatchOutcome
    # The first unit not decoded because the schema registry could not be reached: it and every unit after
    # it are re-delivered (len(units) when every unit was decoded).
    decode_stop: int = 0
    ledger: bool = False  # CDRCAP_EXACTLY_ONCE=ledger: chunks in Kinesis order, claimed by arrival bucket

    def chunks(self, indices: list[int]) -> list[Chunk]:
        arrivals = self.units.arrival_ms if self.ledger else None
        return build_chunks(self.cdrs, self.positions, indices, arrivals)  # type: ignore[arg-type]

    def reject(self, index: int, reason: ReasonCode, detail: str) -> None:
        self.rejects[index] = (reason, detail)
        self.cdrs[index] = None


class BatchProcessor:
    def __init__(
        self,
        config: PipelineConfig,
        stores: Stores,
        fraud: FraudEngine | None = None,
        schemas: SchemaRegistry | None = None,
    ) -> None:
        self.config = config
        self.stores = stores
        self.fraud = fraud  # None: fraud rules off (no alert bus configured)
        # Avro records' writer schemas, resolved once per container (None: Avro records are rejected).
        self.avro = AvroDecoder(schemas, max_body_bytes=config.max_record_bytes)

    def process(self, event: dict[str, Any], now_ms: int | None = None) -> BatchOutcome:
        # A batch allocates ~20 container objects per record, all freed by reference counting (no
        # cycles); the cyclic collector would otherwise run ~every 700 of them and walk the whole heap
        # (phonenumbers' metadata included) on its older generations: ~15 % of the CPU path.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            batch = self._decode(
                expand(event, self.config.home_region),
                int(time.time() * 1000) if now_ms is None else now_ms,
            )
            failure_point = min(self._apply(batch), batch.decode_stop)
            failure_point, matched = self._detect_fraud(batch, failure_point)
            failure_point = self._emit(batch, failure_point, matched)
            self._account(batch, failure_point)
        finally:
            if gc_was_enabled:
                gc.enable()
        return batch.outcome

    def _decode(self, units: Units, now_ms: int) -> _Batch:
        config = self.config
        limits = Limits(
            config.home_region,
            now_ms,
            config.max_clock_skew_s * 1000,
            config.max_record_age_days * 86_400_000,
            config.serving_plmn,
        )
        count = len(units)
        batch = _Batch(
            units,
            [None] * count,
            units.positions(),
            dict(units.early_reject),
            BatchOutcome(records_in=count, notices=list(units.notices)),
            ledger=getattr(self.stores.aggregates, "design", "") == "ledger",
        )
        # The first position of each cdr_id wins. Under ledger the scope is (cdr_id, shard, arrival second),
        # the scope its claims items can check: a re-delivered suffix holding only the later copy must decide
        # as this delivery did (docs/pipeline.md, "What ledger gives up").
        seen: dict[object, int] = {}
        ledger_scope = batch.ledger
        shard_ids, arrivals = units.shard_id, units.arrival_ms
        mappings, avro, max_bytes = config.input_mappings, self.avro, config.max_record_bytes
        payloads, is_kpl, pre_decoded = units.payload, units.is_kpl, units.pre_decoded
        batch.decode_stop = count
        rejects, cdrs = batch.rejects, batch.cdrs
        json_first = taken(payloads, max_bytes)
        for i in range(count):
            if i in rejects:
                continue
            try:
                payload = payloads[i]
                cdr = decoded = None
                # JSON first through msgspec (pipeline/wire_json.py); what it leaves (None) and what
                # decode_payload rejects before parsing go the per-field way, for the exact reason. With
                # input mappings, JSON without the key is a switch's layout: msgspec would only refuse it,
                # and `taken` has made decode_payload's checks before parsing.
                if json_first[i] and i not in pre_decoded:
                    if mappings is None or b'"schema_version"' in payload:
                        cdr = canonical_json(payload, "kpl+json" if is_kpl[i] else "json", limits)
                    else:
                        decoded = decode_taken_json(payload, mappings)
                if cdr is None:
                    source_format, fields = (
                        decoded or pre_decoded.get(i) or decode_payload(payload, max_bytes, mappings, avro)
                    )
                    source_format = "kpl+" + source_format if is_kpl[i] else source_format
                    cdr = canonical_fields(fields, source_format, limits) or to_canonical(
                        fields, source_format, limits
                    )
            except Rejected as rejected:
                batch.reject(i, rejected.reason, rejected.detail)
                continue
            except TransientStoreError:  # the schema registry, unreachable: this unit on is re-delivered
                batch.decode_stop = i
                break
            scope = (cdr.cdr_id, shard_ids[i], arrivals[i] // 1000) if ledger_scope else cdr.cdr_id
            first = seen.setdefault(scope, i)
            if first != i:
                batch.reject(
                    i, ReasonCode.DUPLICATE_CDR, f"same cdr_id as {batch.positions[first]} in this batch"
                )
                continue
            cdrs[i] = cdr
        return batch

    def _apply(self, batch: _Batch) -> int:
        """Apply the chunks one by one; on a transient failure return the failure point: the lowest index
        of the failed chunk and of every chunk after it (chunks are packed by locality, so their indices
        interleave), so that everything before it is applied and everything from it on is re-delivered."""
        committed: list[int] = []
        failure_point = self._apply_chunks(batch, committed)
        # a committed record at or past the failure point is re-delivered and counted as a replay then
        if failure_point < len(batch.units):
            committed = [index for index in committed if index < failure_point]
        batch.outcome.applied += len(committed)
        return failure_point

    def _apply_chunks(self, batch: _Batch, committed: list[int]) -> int:
        outcome = batch.outcome
        chunks = batch.chunks([i for i, cdr in enumerate(batch.cdrs) if cdr is not None])
        first_unapplied = [0] * len(chunks)  # per chunk: the lowest index of it and every later chunk
        lowest = len(batch.units)
        for k in range(len(chunks) - 1, -1, -1):
            lowest = min(lowest, *chunks[k].indices)
            first_unapplied[k] = lowest
        item_writes: Counter[ItemKey] = Counter()
        try:
            return self._apply_each(batch, chunks, first_unapplied, committed, item_writes)
        finally:
            outcome.dynamo_hottest_item_writes = max(item_writes.values(), default=0)

    def _apply_each(
        self,
        batch: _Batch,
        chunks: list[Chunk],
        first_unapplied: list[int],
        committed: list[int],
        item_writes: Counter[ItemKey],
    ) -> int:
        ttl_s = self.config.aggregate_ttl_s
        outcome = batch.outcome
        shift_s = 60 + ttl_s
        for k, chunk in enumerate(chunks):
            for _ in range(MAX_CONFLICT_ROUNDS):
                minute_s = chunk.minute_s  # expiry = minute + 60 + TTL, per item, C-level
                expires = dict(zip(minute_s, map(add, minute_s.values(), repeat(shift_s)), strict=True))
                try:
                    result = self.stores.aggregates.apply(chunk.claims, chunk.deltas, expires)
                except TransientStoreError:
                    return first_unapplied[k]
                if result.committed:
                    committed.extend(chunk.indices)
                    outcome.dynamo_writes += result.items_written
                    outcome.dynamo_write_requests += 1
                    outcome.dynamo_write_units += result.write_units
                    item_writes.update(chunk.deltas.keys())
                    break
                try:
                    chunk = self._resolve_conflicts(batch, chunk, result.conflicting_claims)
                except TransientStoreError:
                    return first_unapplied[k]
                if not chunk.indices:
                    break
            else:
                return first_unapplied[k]
        return len(batch.units)

    def _resolve_conflicts(self, batch: _Batch, chunk: Chunk, conflicting: tuple[int, ...]) -> Chunk:
        """Claims that existed: our own position = already applied (replay); another = a source duplicate."""
        owners = self.stores.aggregates.claim_owners([chunk.claims[j] for j in conflicting])
        settled: set[int] = set()
        for j in conflicting:
            index, claim = chunk.indices[j], chunk.claims[j]
            # ledger keys its owners by position (copies of a cdr_id in two seconds are two claims)
            owner = owners.get(claim.position) or owners.get(claim.cdr_id)
            if owner == claim.position:
                batch.outcome.replayed += 1
                settled.add(index)
            elif owner is not None:
                batch.reject(index, ReasonCode.DUPLICATE_CDR, f"cdr_id already accounted for by {owner}")
                settled.add(index)
        # An owner that vanished (claim expired meanwhile) stays pending and is retried.
        rebuilt = batch.chunks([i for i in chunk.indices if i not in settled])
        # a subset of one chunk packs into one chunk; a second one would be reported without being applied
        assert len(rebuilt) <= 1, "a chunk's remaining records must fit one transaction"
        return rebuilt[0] if rebuilt else Chunk()

    def _detect_fraud(self, batch: _Batch, failure_point: int) -> tuple[int, Mapping[str, tuple[str, ...]]]:
        """Fraud rules over the applied CDRs (replays too: the engine's per-lane watermarks skip what an
        earlier delivery counted). A state or alert failure defers the batch from its first CDR on."""
        if self.fraud is None:
            return failure_point, {}
        units, cdrs = batch.units, batch.cdrs
        good = [i for i in range(failure_point) if cdrs[i] is not None]
        if not good:
            return failure_point, {}
        first = good[0]
        try:
            found = self.fraud.evaluate(
                [cdrs[i] for i in good],  # type: ignore[misc]
                f"{units.shard_id[first]}:{units.sequence_number[first]}",
                shard_id=units.shard_id[first],
                sequence_numbers=[units.sequence_number[i] for i in good],
                partition_keys=[units.partition_key[i] for i in good],
            )
        except FraudError:
            return first, {}
        batch.outcome.fraud_alerts += len(found.alerts)
        batch.outcome.fraud_alerts_by_rule.update(alert.rule_id for alert in found.alerts)
        batch.outcome.dynamo_writes += found.state_writes
        batch.outcome.dynamo_write_requests += found.state_requests
        return failure_point, found.matched_rules

    def _emit(
        self, batch: _Batch, failure_point: int, fraud_rules: Mapping[str, tuple[str, ...]] | None = None
    ) -> int:
        """Output stream, archive and DLQ for the units before `failure_point`; returns the new point."""
        units, cdrs = batch.units, batch.cdrs
        # the accepted units before the failure point, gathered by C-level compress/filter
        accepted = [cdr is not None for cdr in cdrs[:failure_point]]
        good = list(compress(range(failure_point), accepted))
        lines, ndjson = enriched_batch(
            list(filter(None, cdrs[:failure_point])),  # a CDR tuple is never empty (falsy)
            list(compress(batch.positions, accepted)),
            list(compress(units.arrival_ms, accepted)),
            fraud_rules,
        )
        if good:
            failed = self.stores.output.put(
                list(zip(compress(units.partition_key, accepted), lines, strict=True))
            )
            if failed:
                failure_point = min(failure_point, good[failed[0]])
            try:
                self.stores.archive.put(archive_key(units, good), archive_gzip(ndjson))
            except TransientStoreError:
                failure_point = min(failure_point, good[0])
        bad = sorted(i for i in batch.rejects if i < failure_point)
        if bad:
            failed = self.stores.dlq.send([dlq_message(units, i, *batch.rejects[i]) for i in bad])
            if failed:
                failure_point = min(failure_point, bad[failed[0]])
        return failure_point

    def _account(self, batch: _Batch, failure_point: int) -> None:
        units, outcome = batch.units, batch.outcome
        end_ms = int(time.time() * 1000)
        rejects, arrival_ms = batch.rejects, units.arrival_ms
        for i in sorted(i for i in rejects if i < failure_point):  # in unit order, as the Counter was
            outcome.rejected[rejects[i][0].value] += 1
        outcome.latencies_ms += [end_ms - arrival_ms[i] for i in range(failure_point) if i not in rejects]
        outcome.deferred = len(units) - failure_point
        failed: list[str] = []
        for i in range(failure_point, len(units)):
            seq = units.sequence_number[i]
            if not failed or failed[-1] != seq:
                failed.append(seq)
        outcome.failed_sequence_numbers = failed
