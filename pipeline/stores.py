"""The handler's data access: four small interfaces and in-memory fakes (used by unit tests and benchmarks).

The AWS implementations live in pipeline/aws_stores.py. Every method is batch-level: no call per record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import add
from typing import Protocol

from pipeline.aggregate import COUNTERS, Claim, ItemKey
from pipeline.constants import TABLE_TTL_ATTRIBUTE
from pipeline.errors import TransientStoreError


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """Outcome of one atomic chunk application: committed, or the claims that already existed."""

    committed: bool
    conflicting_claims: tuple[int, ...] = ()  # indices into the claims passed to `apply`
    write_units: int = 0


class AggregateStore(Protocol):
    def apply(
        self, claims: Sequence[Claim], deltas: Mapping[ItemKey, list[int]], expires_at: Mapping[ItemKey, int]
    ) -> ApplyResult:
        """Atomically: create every claim (none may exist) and add every delta; raise TransientStoreError."""
        ...

    def claim_owners(self, cdr_ids: Sequence[str]) -> dict[str, str]:
        """The position that owns each existing claim (strongly consistent read); TransientStoreError."""
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


@dataclass
class InMemoryAggregateStore:
    """Same semantics as the DynamoDB store (atomic chunks, claim conflicts), in a dict."""

    items: dict[ItemKey, list[int]] = field(default_factory=dict)  # COUNTERS order, then expires_at
    claims: dict[str, str] = field(default_factory=dict)
    fail_next_applies: int = 0  # test hook: raise TransientStoreError this many times

    def apply(
        self, claims: Sequence[Claim], deltas: Mapping[ItemKey, list[int]], expires_at: Mapping[ItemKey, int]
    ) -> ApplyResult:
        if self.fail_next_applies > 0:
            self.fail_next_applies -= 1
            raise TransientStoreError("injected throttling")
        owned = self.claims
        # Lean: the benchmarks charge this fake's cost to the handler (C-level set/map operations).
        if not owned.keys().isdisjoint([claim.cdr_id for claim in claims]):
            return ApplyResult(False, tuple(i for i, claim in enumerate(claims) if claim.cdr_id in owned))
        owned.update(claims)  # a Claim is the pair (cdr_id, position)
        items = self.items
        for key, vector in deltas.items():
            item = items.get(key)
            if item is None:
                items[key] = [*vector, expires_at[key]]
            else:  # the item's expires_at (last) has no counterpart in vector: map stops before it
                items[key] = [*map(add, item, vector), expires_at[key]]
        return ApplyResult(True, (), 2 * (len(claims) + len(deltas)))

    def snapshot(self) -> dict[ItemKey, dict[str, int]]:
        """The items as the DynamoDB table holds them: counter name -> value, plus the TTL attribute."""
        names = (*COUNTERS, TABLE_TTL_ATTRIBUTE)
        return {key: dict(zip(names, item, strict=True)) for key, item in self.items.items()}

    def claim_owners(self, cdr_ids: Sequence[str]) -> dict[str, str]:
        return {cdr_id: self.claims[cdr_id] for cdr_id in cdr_ids if cdr_id in self.claims}


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
        failed = [i for i in range(len(records)) if i in self.fail_indices]
        self.records.extend(r for i, r in enumerate(records) if i not in self.fail_indices)
        return failed


@dataclass
class InMemoryDeadLetterQueue:
    messages: list[bytes] = field(default_factory=list)

    def send(self, bodies: Sequence[bytes]) -> list[int]:
        self.messages.extend(bodies)
        return []


def in_memory_stores() -> Stores:
    return Stores(
        InMemoryAggregateStore(), InMemoryArchive(), InMemoryOutputStream(), InMemoryDeadLetterQueue()
    )
