"""The handler's data access: four small interfaces and in-memory fakes (used by unit tests and benchmarks).

The AWS implementations live in pipeline/aws_stores.py. Every method is batch-level: no call per record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import add, itemgetter
from typing import Protocol

from pipeline import ledger
from pipeline.aggregate import COUNTERS, Claim, ItemKey
from pipeline.constants import EXACTLY_ONCE_DESIGNS, TABLE_TTL_ATTRIBUTE
from pipeline.errors import TransientStoreError


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """Outcome of one atomic chunk application: committed, or the claims that already existed."""

    committed: bool
    conflicting_claims: tuple[int, ...] = ()  # indices into the claims passed to `apply`
    write_units: int = 0
    items_written: int = 0  # items in the committed transaction (claims count only where they are items)


class AggregateStore(Protocol):
    @property
    def design(self) -> str:
        """CDRCAP_EXACTLY_ONCE: "ledger" chunks are packed in Kinesis order, one commit per ~batch."""
        ...

    def apply(
        self, claims: Sequence[Claim], deltas: Mapping[ItemKey, list[int]], expires_at: Mapping[ItemKey, int]
    ) -> ApplyResult:
        """Atomically: create every claim (none may exist) and add every delta; raise TransientStoreError."""
        ...

    def claim_owners(self, claims: Sequence[Claim]) -> dict[str, str]:
        """cdr_id (ledger: the claim's position) -> the position that owns each of `claims` that exists
        (strongly consistent read); TransientStoreError."""
        ...


class Archive(Protocol):
    def put(self, key: str, body: bytes) -> None: ...


class OutputStream(Protocol):
    def put(self, records: Sequence[tuple[str, bytes]]) -> list[int]:
        """Write (partition key, data) records; return the indices still failing after retries."""
        ...


class DeadLetterQueue(Protocol):
    def send(self, bodies: Sequence[bytes]) -> list[int]:
        """Send messages; return the indices still failing after retries."""
        ...


@dataclass(frozen=True, slots=True)
class Stores:
    aggregates: AggregateStore
    archive: Archive
    output: OutputStream
    dlq: DeadLetterQueue


WRITE_UNIT_BYTES = 1024  # DynamoDB: one write unit per started KB of the larger of the old and new item
_ITEM_BASE_BYTES = 60  # pk/sk/dim/expires_at names and the dim value, beside the key strings
_CLAIM_ITEM_BYTES = 40  # a per-record claim item's attribute names and expires_at, beside cdr_id + owner
_FOLDED_CLAIM_BYTES = 26  # one folded claim: 14-character name + 12-character value


def _number_bytes(value: int) -> int:
    return len(str(abs(value))) // 2 + 2  # DynamoDB: ~1 byte per 2 significant digits, + 1


def item_bytes(key: ItemKey, counters: Sequence[int], folded_claims: int = 0) -> int:
    """Approximate DynamoDB size of an aggregate item (what the in-memory store charges write units by)."""
    counter_bytes = sum(len(name) + _number_bytes(v) for name, v in zip(COUNTERS, counters, strict=False))
    return len(key[0]) + len(key[1]) + _ITEM_BASE_BYTES + counter_bytes + _FOLDED_CLAIM_BYTES * folded_claims


def write_units(size_bytes: int) -> int:
    return -(-size_bytes // WRITE_UNIT_BYTES)


# Seven counters below 10**20 take at most 7 x (14-byte name + 12 bytes): sizing an item exactly is
# only needed past this (the benchmarks charge this fake's CPU to the handler).
_COUNTERS_MAX_BYTES = 182


_CDR_ID, _POSITION, _ITEM = itemgetter(0), itemgetter(1), itemgetter(2)  # of a Claim
_PK, _SK = itemgetter(0), itemgetter(1)  # of an ItemKey
_BUCKET = itemgetter(0)  # of a ledger.ClaimKeys


def _aggregate_units(key: ItemKey, item: list[int], folded_claims: int) -> int:
    bound = (
        len(key[0])
        + len(key[1])
        + _ITEM_BASE_BYTES
        + _COUNTERS_MAX_BYTES
        + _FOLDED_CLAIM_BYTES * folded_claims
    )
    return 1 if bound <= WRITE_UNIT_BYTES else write_units(item_bytes(key, item, folded_claims))


@dataclass
class InMemoryAggregateStore:
    """Same semantics as the DynamoDB store (atomic chunks, claim conflicts), in a dict.

    `design` mirrors CDRCAP_EXACTLY_ONCE: "per_record" keys a claim by cdr_id alone (its own item),
    "folded" by (A-number minute item, cdr_id). Write units are charged as DynamoDB does in a
    transaction: 2 per started KB of each item written (item sizes approximated by `item_bytes`)."""

    items: dict[ItemKey, list[int]] = field(default_factory=dict)  # COUNTERS order, then expires_at
    claims: dict[str, str] = field(default_factory=dict)  # claim key -> position
    fail_next_applies: int = 0  # test hook: raise TransientStoreError this many times
    design: str = EXACTLY_ONCE_DESIGNS[0]
    folded_per_item: dict[ItemKey, int] = field(default_factory=dict)  # "folded": claims held per item

    def _claim_key(self, claim: Claim) -> str:
        return (
            claim.cdr_id if self.design == "per_record" else f"{claim.item[0]}|{claim.item[1]}|{claim.cdr_id}"
        )

    def _maybe_throttle(self) -> None:
        """The `fail_next_applies` test hook: raise TransientStoreError while it counts down."""
        if self.fail_next_applies > 0:
            self.fail_next_applies -= 1
            raise TransientStoreError("injected throttling")

    def apply(
        self, claims: Sequence[Claim], deltas: Mapping[ItemKey, list[int]], expires_at: Mapping[ItemKey, int]
    ) -> ApplyResult:
        self._maybe_throttle()
        owned = self.claims
        # Lean: the benchmarks charge this fake's cost to the handler, so per-claim and per-item work is
        # C-level (map, set and dict operations); sizes are bounded per chunk, exact only past the bound.
        per_record = self.design == "per_record"
        positions = list(map(_POSITION, claims))
        if per_record:
            claim_keys = list(map(_CDR_ID, claims))
        else:
            claim_keys = [f"{claim.item[0]}|{claim.item[1]}|{claim.cdr_id}" for claim in claims]
        if not owned.keys().isdisjoint(claim_keys):
            return ApplyResult(False, tuple(i for i, key in enumerate(claim_keys) if key in owned))
        owned.update(zip(claim_keys, positions, strict=True))
        folded = self.folded_per_item
        units = 0
        if not per_record:
            for item_key in map(_ITEM, claims):
                folded[item_key] = folded.get(item_key, 0) + 1
        elif claims and (
            _CLAIM_ITEM_BYTES + 2 * max(map(len, claim_keys)) + max(map(len, positions)) <= WRITE_UNIT_BYTES
        ):
            units = 2 * len(claims)  # every claim item under 1 KB: 2 units each in a transaction
        else:
            units = sum(
                2 * write_units(_CLAIM_ITEM_BYTES + 2 * len(claim.cdr_id) + len(claim.position))
                for claim in claims
            )
        items = self.items
        get = items.get
        for key, vector in deltas.items():
            item = get(key)
            if item is None:
                items[key] = [*vector, expires_at[key]]
            else:  # the item's expires_at (last) has no counterpart in vector: map stops before it
                items[key] = [*map(add, item, vector), expires_at[key]]
        if deltas:
            most_folded = max(map(folded.get, deltas, repeat(0))) if folded else 0
            bound = (
                max(map(len, map(_PK, deltas)))
                + max(map(len, map(_SK, deltas)))
                + _ITEM_BASE_BYTES
                + _COUNTERS_MAX_BYTES
                + _FOLDED_CLAIM_BYTES * most_folded
            )
            if bound <= WRITE_UNIT_BYTES:  # every item under 1 KB, whatever its counters
                units += 2 * len(deltas)
            else:
                units += sum(2 * _aggregate_units(key, items[key], folded.get(key, 0)) for key in deltas)
        claim_items = len(claims) if per_record else 0
        return ApplyResult(True, (), units, claim_items + len(deltas))

    def forget_claims(self) -> None:
        """Test hook: lose every claim (exactly-once broken on purpose)."""
        self.claims.clear()

    def snapshot(self) -> dict[ItemKey, dict[str, int]]:
        """The items as the DynamoDB table holds them: counter name -> value, plus the TTL attribute."""
        names = (*COUNTERS, TABLE_TTL_ATTRIBUTE)
        return {key: dict(zip(names, item, strict=True)) for key, item in self.items.items()}

    def claim_owners(self, claims: Sequence[Claim]) -> dict[str, str]:
        owned = self.claims
        keys = [(claim.cdr_id, self._claim_key(claim)) for claim in claims]
        return {cdr_id: owned[key] for cdr_id, key in keys if key in owned}


@dataclass
class InMemoryArchive:
    objects: dict[str, bytes] = field(default_factory=dict)

    def put(self, key: str, body: bytes) -> None:
        self.objects[key] = body


@dataclass
class InMemoryOutputStream:
    records: list[tuple[str, bytes]] = field(default_factory=list)
    fail_indices: set[int] = field(default_factory=set)  # test hook: these indices fail every time

    def put(self, records: Sequence[tuple[str, bytes]]) -> list[int]:
        if not self.fail_indices:
            self.records += records
            return []
        failed = [i for i in range(len(records)) if i in self.fail_indices]
        self.records.extend(r for i, r in enumerate(records) if i not in self.fail_indices)
        return failed


@dataclass
class InMemoryDeadLetterQueue:
    messages: list[bytes] = field(default_factory=list)

    def send(self, bodies: Sequence[bytes]) -> list[int]:
        self.messages.extend(bodies)
        return []


LEDGER_COMMIT_ATTEMPTS = 4  # read-check-commit rounds when concurrent writers keep bumping a claims item
READ_UNIT_BYTES = 4096  # DynamoDB: a strongly consistent read costs one unit per started 4 KB of each item


class LedgerCommitConflict(Exception):
    """A claims item's version moved between our read and our commit (another delivery committed)."""


class LedgerApply:
    """The ledger design's read-check-commit loop over claims items (pipeline/ledger.py), shared by the
    in-memory and the DynamoDB store: read the buckets (consistent), report the claims already held as
    conflicts (the processor settles them via `claim_owners`: replay or duplicate), else commit the new
    claims items (each conditioned on the version read) with one delta item, atomically. A version that
    moved meanwhile means another writer committed: read again (bounded, jittered), then transient."""

    design = "ledger"

    def _read_buckets(self, keys: Sequence[ItemKey]) -> dict[ItemKey, ledger.ClaimSet]:
        raise NotImplementedError

    def _commit(
        self, after: Mapping[ItemKey, ledger.ClaimSet], delta_key: ItemKey, delta: bytes, expires_at: int
    ) -> int:
        """Write `after` (each under the condition: version = its version - 1, or absent) and the delta
        (absent) in one transaction; return the write units; LedgerCommitConflict if a condition failed."""
        raise NotImplementedError

    def _pause(self, attempt: int) -> None:
        """Back off before reading again after a conflict."""

    def apply(
        self, claims: Sequence[Claim], deltas: Mapping[ItemKey, list[int]], expires_at: Mapping[ItemKey, int]
    ) -> ApplyResult:
        keys = ledger.claim_keys(claims)  # each claim's bucket, unit id and digest, once for every round
        buckets = list(dict.fromkeys(map(_BUCKET, keys)))
        expires = max(expires_at.values())
        for attempt in range(LEDGER_COMMIT_ATTEMPTS):
            states = self._read_buckets(buckets)
            held = ledger.conflicting(claims, states, keys)
            if held:
                return ApplyResult(False, held)
            after = ledger.merged(claims, states, expires, keys)
            try:
                units = self._commit(after, ledger.delta_key(claims), ledger.encode_delta(deltas), expires)
            except LedgerCommitConflict:
                self._pause(attempt)
                continue
            return ApplyResult(True, (), units, len(after) + 1)
        raise TransientStoreError(
            f"claims items kept changing under {LEDGER_COMMIT_ATTEMPTS} commits (concurrent deliveries)"
        )

    def claim_owners(self, claims: Sequence[Claim]) -> dict[str, str]:
        return ledger.owners(claims, self._read_buckets(list(dict.fromkeys(map(ledger.bucket_key, claims)))))


def ledger_item_bytes(key: ItemKey, blob: bytes) -> int:
    return len(key[0]) + len(key[1]) + _ITEM_BASE_BYTES + len(blob)


@dataclass
class InMemoryLedgerStore(LedgerApply, InMemoryAggregateStore):
    """CDRCAP_EXACTLY_ONCE=ledger in dicts: claims items and delta items as DynamoDB holds them (encoded),
    write units charged as DynamoDB does in a transaction (2 per started KB of the larger of the old and
    new item), read units as a consistent BatchGetItem (1 per started 4 KB of each item, 1 if absent)."""

    design: str = "ledger"
    buckets: dict[ItemKey, ledger.ClaimSet] = field(default_factory=dict)  # the claims items, decoded
    bucket_blobs: dict[ItemKey, bytes] = field(default_factory=dict)  # ... and as stored
    delta_items: dict[ItemKey, tuple[bytes, int]] = field(default_factory=dict)  # key -> (blob, expires_at)
    read_units: int = 0
    before_commit: Callable[[], None] | None = None  # test hook: a concurrent writer between read and commit
    _expires: dict[ItemKey, int] = field(default_factory=dict)

    def _read_buckets(self, keys: Sequence[ItemKey]) -> dict[ItemKey, ledger.ClaimSet]:
        found = {}
        for key in keys:
            state = self.buckets.get(key)
            self.read_units += max(1, -(-(state.stored_bytes if state else 0) // READ_UNIT_BYTES))
            if state is not None:  # a copy, as a read returns: the caller's changes do not touch the table
                found[key] = ledger.ClaimSet(
                    state.version, dict(state.units), state.stored_bytes, state.expires_at
                )
        return found

    def _commit(
        self, after: Mapping[ItemKey, ledger.ClaimSet], delta_key: ItemKey, delta: bytes, expires_at: int
    ) -> int:
        if self.before_commit is not None:
            hook, self.before_commit = self.before_commit, None
            hook()
        for key, state in after.items():
            current = self.buckets.get(key)
            if (current.version if current else 0) != state.version - 1:
                raise LedgerCommitConflict(f"{key} is at version {current.version if current else 0}")
        if delta_key in self.delta_items:
            raise LedgerCommitConflict(f"{delta_key} exists")
        units = 0
        for key, state in after.items():
            blob = ledger.encode_claims(state.units)
            size = ledger_item_bytes(key, blob)
            units += 2 * write_units(max(size, state.stored_bytes))
            self.buckets[key] = ledger.ClaimSet(state.version, state.units, size, state.expires_at)
            self.bucket_blobs[key] = blob
        self.delta_items[delta_key] = (delta, expires_at)
        return units + 2 * write_units(ledger_item_bytes(delta_key, delta))

    def apply(
        self, claims: Sequence[Claim], deltas: Mapping[ItemKey, list[int]], expires_at: Mapping[ItemKey, int]
    ) -> ApplyResult:
        self._maybe_throttle()
        result = LedgerApply.apply(self, claims, deltas, expires_at)
        if result.committed:  # what the other designs' item would carry (its deltas live at least as long)
            for key, expires in expires_at.items():
                self._expires[key] = max(self._expires.get(key, 0), expires)
        return result

    def claim_owners(self, claims: Sequence[Claim]) -> dict[str, str]:
        return LedgerApply.claim_owners(self, claims)

    def forget_claims(self) -> None:
        self.buckets.clear()
        self.bucket_blobs.clear()

    def snapshot(self) -> dict[ItemKey, dict[str, int]]:
        """The aggregates as a reader sums them from the delta items."""
        names = (*COUNTERS, TABLE_TTL_ATTRIBUTE)
        totals = ledger.sum_deltas(blob for blob, _ in self.delta_items.values())
        return {
            key: dict(zip(names, [*vector, self._expires[key]], strict=True))
            for key, vector in totals.items()
        }


def in_memory_stores(exactly_once: str = EXACTLY_ONCE_DESIGNS[0]) -> Stores:
    return Stores(
        InMemoryLedgerStore() if exactly_once == "ledger" else InMemoryAggregateStore(design=exactly_once),
        InMemoryArchive(),
        InMemoryOutputStream(),
        InMemoryDeadLetterQueue(),
    )
