"""Minute-bucket aggregates per cell, per A-number and per destination country, pre-aggregated per chunk.

A chunk is the unit of exactly-once application (see docs/pipeline.md, "Idempotency"): records grouped by
the items they share (destination, then cell) whose claims plus distinct aggregate items fit one DynamoDB
transaction.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import repeat
from operator import add, itemgetter
from typing import Any, NamedTuple

from pipeline.aws_limits import DDB_ITEM_MAX_BYTES, DDB_TRANSACT_WRITE_MAX_ITEMS
from pipeline.schema import CanonicalCDR, Cell, RecordType

# Counter attributes of every aggregate item, in the order of a contribution vector.
COUNTERS = ("records", "calls", "answered_calls", "total_s", "billable_s", "sms", "data_bytes")
# By value: a set lookup of an Enum member calls Enum.__hash__, a Python function (~0.3 µs); its plain
# `_value_` string hashes in C.
_CALL_TYPES = frozenset({RecordType.MOC._value_, RecordType.MTC._value_, RecordType.FORWARD._value_})
_SMS_TYPES = frozenset({RecordType.SMS_MO._value_, RecordType.SMS_MT._value_})
DIM_CELL = "cell"
DIM_A_NUMBER = "anum"
DIM_DEST_COUNTRY = "dest"

ItemKey = tuple[str, str]  # (pk, sk)


class Claim(NamedTuple):
    """The claim of a cdr_id by one Kinesis position; written in the same transaction as its counters."""

    cdr_id: str
    position: str  # "<shard_id>/<sequence_number>/<sub_sequence>"
    item: ItemKey = ("", "")  # the CDR's A-number minute item: where the `folded` design keeps the claim
    arrival_ms: int = (
        0  # the Kinesis record's approximateArrivalTimestamp: the `ledger` design's claims bucket
    )


_new_claim = tuple.__new__  # one per record: skips the NamedTuple's Python-level __new__

FOLDED_CLAIM_PREFIX = "c#"  # attribute names of claims folded into an A-number minute item


def _digest(text: str) -> str:
    # 72 bits, 12 characters: a collision inside one subscriber-minute item is ~1e-20 likely.
    return base64.urlsafe_b64encode(hashlib.blake2b(text.encode(), digest_size=9).digest()).decode()


def folded_claim(claim: Claim) -> tuple[str, str]:
    """(attribute name, value) of `claim` inside its A-number minute item: hashes keep the item small
    (26 bytes a CDR) and keep the cdr_id and position out of the table in clear."""
    return FOLDED_CLAIM_PREFIX + _digest(claim.cdr_id), _digest(claim.position)


@dataclass(slots=True)
class Chunk:
    """Records applied atomically: their claims and the summed contributions per aggregate item."""

    indices: list[int] = field(default_factory=list)  # into the batch's list of accepted CDRs
    claims: list[Claim] = field(default_factory=list)
    deltas: dict[ItemKey, list[int]] = field(default_factory=dict)
    minute_s: dict[ItemKey, int] = field(default_factory=dict)


@lru_cache(maxsize=4096)
def minute_sort_key(minute_s: int) -> str:
    return "m#" + time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(minute_s))


def contribution(cdr: CanonicalCDR) -> list[int]:
    """The counters one CDR adds, in COUNTERS order (3GPP meaning: billable only when answered)."""
    record_type = cdr.record_type._value_
    if record_type in _CALL_TYPES:
        holding_s = (cdr.release_utc_ms - cdr.seizure_utc_ms) // 1000
        if cdr.answered:
            return [1, 1, 1, holding_s, cdr.duration_s, 0, 0]
        return [1, 1, 0, holding_s, 0, 0, 0]
    if record_type in _SMS_TYPES:
        return [1, 0, 0, 0, 0, 1, 0]
    return [1, 0, 0, 0, 0, 0, cdr.bytes_up + cdr.bytes_down]


@lru_cache(maxsize=65_536)
def _cell_pk(cell: Cell) -> str:
    return f"{DIM_CELL}#{cell.mcc}-{cell.mnc}-{cell.lac if cell.lac is not None else ''}-{cell.cell_id}"


@lru_cache(maxsize=65_536)
def _switch_cell_pk(msc_id: str, cell: Cell) -> str:
    """A cell whose PLMN is unknown (none in the record, none configured) is still a cell of its switch;
    a record without any location counts towards the switch's "unlocated" item."""
    if cell.cell_id is None:
        return f"{DIM_CELL}#@{msc_id}/unlocated"
    return f"{DIM_CELL}#@{msc_id}/{cell.lac if cell.lac is not None else ''}-{cell.cell_id}"


def _unknown_a_number(msc_id: str) -> str:
    # Records without an A-party (32.298 leaves servedMSISDN/callingNumber OPTIONAL) still need an item to
    # carry the per-switch count and, in the folded design, their claims.
    return f"{DIM_A_NUMBER}#?{msc_id}"


def item_keys(cdr: CanonicalCDR) -> tuple[int, list[ItemKey]]:
    """(minute epoch s, the aggregate items this CDR counts towards) — by event (seizure) time."""
    minute_s = cdr.seizure_utc_ms // 60_000 * 60
    sk = minute_sort_key(minute_s)
    cell, a_number = cdr.cell, cdr.a_number
    keys = [
        (_cell_pk(cell) if cell.mcc is not None else _switch_cell_pk(cdr.msc_id, cell), sk),
        (DIM_A_NUMBER + "#" + a_number if a_number else _unknown_a_number(cdr.msc_id), sk),
    ]
    if cdr.b_country is not None and cdr.record_type is not RecordType.DATA:
        keys.append((DIM_DEST_COUNTRY + "#" + cdr.b_country, sk))
    return minute_s, keys


_NO_ITEM: ItemKey = ("", "")  # the destination item of a record without one: sorts first
# (destination item, cell item, index, minute, A-number item, contribution, cdr_id) of one CDR
_Keyed = tuple[ItemKey, ItemKey, int, int, ItemKey, list[int], str]
_INDEX, _A_KEY, _CDR_ID_OF = itemgetter(2), itemgetter(4), itemgetter(6)  # of a _Keyed


def build_chunks(
    cdrs: Sequence[CanonicalCDR],
    positions: Sequence[str],
    indices: Sequence[int],
    arrivals: Sequence[int] | None = None,
) -> list[Chunk]:
    """Pack the CDRs at `indices` into chunks of at most DDB_TRANSACT_WRITE_MAX_ITEMS items, by locality.

    CDRs are packed in order of (destination item, cell item), not in Kinesis order: a shared item (a
    country's minute, a busy cell's minute) is then written by one or two chunks instead of by every chunk,
    which cut DynamoDB item writes per 500-record batch by ~15 % on loadgen traffic. Exactly-once does not
    depend on the order (the claims do), but a chunk's indices are then not contiguous: the caller must
    treat the lowest index of every chunk not yet applied as the failure point."""
    if arrivals is not None:
        return build_ledger_chunks(cdrs, positions, indices, arrivals)
    keyed = _by_locality(_keyed(cdrs, indices))
    # Indices and claims of every record in packing order, built in C; each chunk takes its slice.
    order = list(map(_INDEX, keyed))
    claims = list(
        map(
            _new_claim,
            repeat(Claim),
            zip(map(_CDR_ID_OF, keyed), map(positions.__getitem__, order), map(_A_KEY, keyed), repeat(0)),
        )
    )
    chunks: list[Chunk] = []
    deltas: dict[ItemKey, list[int]] = {}
    minutes: dict[ItemKey, int] = {}
    get = deltas.get
    used = 0  # the chunk's transaction items: its claims and distinct aggregate items
    start = 0  # the chunk's first record in packing order
    for end, (dest_key, cell_key, _, minute_s, a_key, vector, _) in enumerate(keyed):
        # Worst case every key is new: one claim + its items (2, or 3 with a destination) must still fit.
        if used + (3 if dest_key is _NO_ITEM else 4) > DDB_TRANSACT_WRITE_MAX_ITEMS:
            chunks.append(Chunk(order[start:end], claims[start:end], deltas, minutes))
            deltas, minutes = {}, {}
            get = deltas.get
            used = 0
            start = end
        used += 1
        # The record's items in the order cell, A-number, destination (unrolled: no list, no inner loop);
        # a new item takes the record's vector (shared, never mutated: a sum is a new list, map in C).
        summed = get(cell_key)
        if summed is None:
            deltas[cell_key] = vector
            minutes[cell_key] = minute_s
            used += 1
        else:
            deltas[cell_key] = [*map(add, summed, vector)]
        summed = get(a_key)
        if summed is None:
            deltas[a_key] = vector
            minutes[a_key] = minute_s
            used += 1
        else:
            deltas[a_key] = [*map(add, summed, vector)]
        if dest_key is not _NO_ITEM:
            summed = get(dest_key)
            if summed is None:
                deltas[dest_key] = vector
                minutes[dest_key] = minute_s
                used += 1
            else:
                deltas[dest_key] = [*map(add, summed, vector)]
    if start < len(keyed):
        chunks.append(Chunk(order[start:], claims[start:], deltas, minutes))
    return chunks


def _by_locality(keyed: list[_Keyed]) -> list[_Keyed]:
    """`sorted(keyed)`, by integers: the rank of the destination item, of the cell item, the position.
    Sorting the tuples compares nested tuples of strings (~1 µs per record); ranking the few distinct
    items and sorting one int per record gives the same order (the positions ascend like the indices)."""
    count = len(keyed)
    dest_rank = {key: rank for rank, key in enumerate(sorted({entry[0] for entry in keyed}))}
    cell_rank = {key: rank for rank, key in enumerate(sorted({entry[1] for entry in keyed}))}
    cells = len(cell_rank)
    order = [
        (dest_rank[entry[0]] * cells + cell_rank[entry[1]]) * count + position
        for position, entry in enumerate(keyed)
    ]
    order.sort()
    return [keyed[rank % count] for rank in order]


# CanonicalCDR's fields by position (a tuple index is cheaper than a NamedTuple attribute)
_RECORD_TYPE, _A_NUMBER, _B_COUNTRY, _SEIZURE, _RELEASE, _DURATION, _ANSWERED = map(
    CanonicalCDR._fields.index,
    ("record_type", "a_number", "b_country", "seizure_utc_ms", "release_utc_ms", "duration_s", "answered"),
)
_CELL, _MSC_ID, _BYTES_UP, _BYTES_DOWN = map(
    CanonicalCDR._fields.index, ("cell", "msc_id", "bytes_up", "bytes_down")
)


def _keyed(cdrs: Sequence[CanonicalCDR], indices: Sequence[int]) -> list[_Keyed]:
    """Per CDR at `indices`: (destination item, cell item, index, minute, A-number item, its contribution,
    cdr_id): `item_keys` and `contribution` in one loop, without a call per record. The
    index is unique and `indices` ascend, so sorting these tuples is the stable sort by locality."""
    keyed: list[_Keyed] = []
    append = keyed.append
    sort_key = minute_sort_key
    data = RecordType.DATA
    for index in indices:
        cdr: Any = cdrs[index]  # read by position
        minute_s = cdr[_SEIZURE] // 60_000 * 60
        sk = sort_key(minute_s)
        cell = cdr[_CELL]
        cell_key = (_cell_pk(cell) if cell[0] is not None else _switch_cell_pk(cdr[_MSC_ID], cell), sk)
        a_number = cdr[_A_NUMBER]
        a_key = (DIM_A_NUMBER + "#" + a_number if a_number else _unknown_a_number(cdr[_MSC_ID]), sk)
        record_type = cdr[_RECORD_TYPE]
        type_name = record_type._value_
        if type_name in _CALL_TYPES:
            holding_s = (cdr[_RELEASE] - cdr[_SEIZURE]) // 1000
            if cdr[_ANSWERED]:
                vector = [1, 1, 1, holding_s, cdr[_DURATION], 0, 0]
            else:
                vector = [1, 1, 0, holding_s, 0, 0, 0]
        elif type_name in _SMS_TYPES:
            vector = [1, 0, 0, 0, 0, 1, 0]
        else:
            vector = [1, 0, 0, 0, 0, 0, cdr[_BYTES_UP] + cdr[_BYTES_DOWN]]
        b_country = cdr[_B_COUNTRY]
        if b_country is not None and record_type is not data:
            dest_key = (DIM_DEST_COUNTRY + "#" + b_country, sk)
            append((dest_key, cell_key, index, minute_s, a_key, vector, cdr[0]))
        else:
            append((_NO_ITEM, cell_key, index, minute_s, a_key, vector, cdr[0]))
    return keyed


# CDRCAP_EXACTLY_ONCE=ledger: a chunk is one commit (claims items of the buckets it touches + one delta item)
# and is cut in Kinesis order when its delta or its buckets would outgrow what one transaction carries.
LEDGER_MAX_BUCKETS = 16  # claims items per commit: 16 x <= 200 KB + the delta stays under 4 MB
# the delta item's counters before compression: well under DynamoDB's item size even if zlib gained nothing
LEDGER_MAX_DELTA_BYTES = DDB_ITEM_MAX_BYTES * 5 // 8
_LEDGER_ITEM_BYTES = 72  # one item's counters in the delta (7 msgpack ints + overhead), beside its pk


def build_ledger_chunks(
    cdrs: Sequence[CanonicalCDR], positions: Sequence[str], indices: Sequence[int], arrivals: Sequence[int]
) -> list[Chunk]:
    """Pack the CDRs at `indices` in Kinesis order into as few commits as the limits allow (one per batch
    of up to ~3,000 CDRs): a chunk's indices are then contiguous among `indices`, and a failed commit's
    first index is the failure point.

    A record's items and vector come from `_keyed` (in `indices` order, not sorted): the same keys in the
    same order as `item_keys` (cell, A-number, destination) and `contribution`'s vector, without a call
    per record; its new items' bytes and claims bucket are reckoned inline."""
    chunks: list[Chunk] = []
    chunk = Chunk()
    deltas, minutes, chunk_indices, chunk_claims = chunk.deltas, chunk.minute_s, chunk.indices, chunk.claims
    get = deltas.get
    buckets: set[tuple[str, int]] = set()
    delta_bytes = 0
    item_bytes, max_delta_bytes, max_buckets = _LEDGER_ITEM_BYTES, LEDGER_MAX_DELTA_BYTES, LEDGER_MAX_BUCKETS
    for dest_key, cell_key, index, minute_s, a_key, vector, cdr_id in _keyed(cdrs, indices):
        position, arrival_ms = positions[index], arrivals[index]
        bucket = (position[: position.find("/")], arrival_ms // 1000)  # the claims item: (shard, second)
        has_dest = dest_key is not _NO_ITEM
        new_bytes = 0  # the delta's growth by this record's items not in it yet
        if cell_key not in deltas:
            new_bytes += len(cell_key[0]) + item_bytes
        if a_key not in deltas:
            new_bytes += len(a_key[0]) + item_bytes
        if has_dest and dest_key not in deltas:
            new_bytes += len(dest_key[0]) + item_bytes
        if chunk_indices and (
            delta_bytes + new_bytes > max_delta_bytes
            or (bucket not in buckets and len(buckets) == max_buckets)
        ):
            chunks.append(chunk)
            chunk, buckets, delta_bytes = Chunk(), set(), 0
            deltas, minutes, chunk_indices, chunk_claims = (
                chunk.deltas,
                chunk.minute_s,
                chunk.indices,
                chunk.claims,
            )
            get = deltas.get
            new_bytes = len(cell_key[0]) + len(a_key[0]) + 2 * item_bytes
            if has_dest:
                new_bytes += len(dest_key[0]) + item_bytes
        buckets.add(bucket)
        delta_bytes += new_bytes
        # the record's items in item_keys' order; a new item takes the vector (shared, never mutated: a sum
        # is a new list)
        summed = get(cell_key)
        if summed is None:
            deltas[cell_key] = vector
            minutes[cell_key] = minute_s
        else:
            deltas[cell_key] = [*map(add, summed, vector)]
        summed = get(a_key)
        if summed is None:
            deltas[a_key] = vector
            minutes[a_key] = minute_s
        else:
            deltas[a_key] = [*map(add, summed, vector)]
        if has_dest:
            summed = get(dest_key)
            if summed is None:
                deltas[dest_key] = vector
                minutes[dest_key] = minute_s
            else:
                deltas[dest_key] = [*map(add, summed, vector)]
        chunk_indices.append(index)
        chunk_claims.append(_new_claim(Claim, (cdr_id, position, a_key, arrival_ms)))
    if chunk_indices:
        chunks.append(chunk)
    return chunks
