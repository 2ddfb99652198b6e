"""CDRCAP_EXACTLY_ONCE=ledger: claims per (shard, arrival second), one delta item per commit, readers sum.

The table holds two kinds of items in this design (docs/pipeline.md, "ledger"):
- a *claims* item per (shard, arrival bucket = approximateArrivalTimestamp // 1 s): the exact identities of
  the units (sequence number + KPL sub-sequence) applied so far from that bucket, the cdr_id digest of each
  (source duplicates within the bucket), and a version number every commit bumps under a condition;
- a *delta* item per commit: the pre-aggregated counters of the units that commit applied, per aggregate
  item. The aggregates are the sum of the deltas (`sum_deltas`, what `cdrcap verify` and readers do).

A re-delivered unit has the same shard and arrival timestamp, so its claim is always in its own bucket,
whatever the delivery pattern (whole batch, suffix, bisected half, re-cut batch, any PF lane).
Pure functions here; the stores (pipeline/stores.py, pipeline/aws_stores.py) read and write the items.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import msgspec

from pipeline.aggregate import Claim, ItemKey, minute_sort_key

CLAIMS_PREFIX = "claims#"  # pk of a claims item: claims#<shard id>; sk: s#<arrival epoch second>
DELTA_PREFIX = "delta#"  # pk: delta#<arrival minute>#<shard id>; sk: the position of the commit's first unit
CLAIMS_ATTRIBUTE = "c"  # binary: zlib(count, sorted unit ids, their cdr_id digests)
VERSION_ATTRIBUTE = "v"  # number: 1 on the first commit, +1 on each
DELTA_ATTRIBUTE = "d"  # binary: zlib(msgpack {sk: {pk: [counters]}})
BUCKET_MS = 1000
_SEQ_BYTES = 25  # a Kinesis sequence number (up to 60 decimal digits) as a big-endian integer
_UNIT_BYTES = _SEQ_BYTES + 2  # + the KPL sub-sequence (0xFFFF: not a KPL sub-record)
_NO_SUB = 0xFFFF
DIGEST_BYTES = 8  # blake2b of the cdr_id: a collision among one bucket's units is ~1e-13 likely
_COUNT_BYTES = 4
_encode = msgspec.msgpack.Encoder().encode
_decode_delta = msgspec.msgpack.Decoder(dict[str, dict[str, list[int]]]).decode


def bucket_key(claim: Claim) -> ItemKey:
    """The claims item a unit's claim lives in: its shard and arrival second (fixed across re-deliveries)."""
    position = claim.position
    return CLAIMS_PREFIX + position[: position.find("/")], f"s#{claim.arrival_ms // BUCKET_MS}"


def unit_id(position: str) -> bytes:
    """The unit's identity inside its shard: sequence number and sub-sequence, 27 bytes."""
    _, seq, sub = position.rsplit("/", 2)
    return int(seq).to_bytes(_SEQ_BYTES, "big") + (int(sub) if sub else _NO_SUB).to_bytes(2, "big")


def cdr_digest(cdr_id: str) -> bytes:
    return hashlib.blake2b(cdr_id.encode(), digest_size=DIGEST_BYTES).digest()


ClaimKeys = tuple[ItemKey, bytes, bytes]  # of one claim: (its claims item, its unit id, its cdr_id digest)


def claim_keys(claims: Sequence[Claim]) -> list[ClaimKeys]:
    """`bucket_key`, `unit_id` and `cdr_digest` of each claim, computed once for a commit's read, check and
    merge (each took them again, up to four bucket keys a claim); the same values, inline (no call)."""
    keys: list[ClaimKeys] = []
    append = keys.append
    blake2b = hashlib.blake2b
    for cdr_id, position, _, arrival_ms in claims:
        _, seq, sub = position.rsplit("/", 2)
        append(
            (
                (CLAIMS_PREFIX + position[: position.find("/")], f"s#{arrival_ms // BUCKET_MS}"),
                int(seq).to_bytes(_SEQ_BYTES, "big") + (int(sub) if sub else _NO_SUB).to_bytes(2, "big"),
                blake2b(cdr_id.encode(), digest_size=DIGEST_BYTES).digest(),
            )
        )
    return keys


@dataclass(slots=True)
class ClaimSet:
    """One claims item as read: version 0 = absent; `stored_bytes` = its size (the write units of
    replacing it: DynamoDB charges the larger of the old and the new item)."""

    version: int = 0
    units: dict[bytes, bytes] = field(default_factory=dict)  # unit id -> cdr_id digest
    stored_bytes: int = 0
    expires_at: int = 0


def encode_claims(units: Mapping[bytes, bytes]) -> bytes:
    ids = sorted(units)
    # sorted ids share their high bytes (one shard, one second): zlib takes them to a few bytes each
    count = len(ids).to_bytes(_COUNT_BYTES, "big")
    return zlib.compress(count + b"".join(ids) + b"".join([units[unit] for unit in ids]))


def decode_claims(blob: bytes) -> dict[bytes, bytes]:
    raw = zlib.decompress(blob)
    count = int.from_bytes(raw[:_COUNT_BYTES], "big")
    ids_end = _COUNT_BYTES + count * _UNIT_BYTES
    return {
        raw[_COUNT_BYTES + i * _UNIT_BYTES : _COUNT_BYTES + (i + 1) * _UNIT_BYTES]: raw[
            ids_end + i * DIGEST_BYTES : ids_end + (i + 1) * DIGEST_BYTES
        ]
        for i in range(count)
    }


def encode_delta(deltas: Mapping[ItemKey, list[int]]) -> bytes:
    by_minute: dict[str, dict[str, list[int]]] = {}
    for (pk, sk), vector in deltas.items():
        by_minute.setdefault(sk, {})[pk] = vector
    return zlib.compress(_encode(by_minute))


def decode_delta(blob: bytes) -> dict[ItemKey, list[int]]:
    return {
        (pk, sk): vector
        for sk, items in _decode_delta(zlib.decompress(blob)).items()
        for pk, vector in items.items()
    }


def sum_deltas(blobs: Iterable[bytes]) -> dict[ItemKey, list[int]]:
    """The aggregates a reader sees: every delta's counters added per (pk, sk)."""
    totals: dict[ItemKey, list[int]] = {}
    for blob in blobs:
        for key, vector in decode_delta(blob).items():
            total = totals.get(key)
            totals[key] = vector if total is None else [a + b for a, b in zip(total, vector, strict=True)]
    return totals


def delta_key(claims: Sequence[Claim]) -> ItemKey:
    """A commit's delta item: unique because its first unit is claimed by this commit and no other. The pk
    carries the shard: every shard writes its own partition key (one key for all shards would be one
    partition's 1,000 WCU/s for the whole stream)."""
    first = claims[0]
    minute = minute_sort_key(first.arrival_ms // 60_000 * 60)
    return f"{DELTA_PREFIX}{minute}#{first.position[: first.position.find('/')]}", first.position


def conflicting(
    claims: Sequence[Claim], states: Mapping[ItemKey, ClaimSet], keys: Sequence[ClaimKeys] | None = None
) -> tuple[int, ...]:
    """Indices of `claims` whose unit its bucket already holds (a replay) or whose cdr_id another unit of
    its bucket holds (a source duplicate). `keys`: their `claim_keys`, when the caller has them."""
    digests: dict[ItemKey, set[bytes]] = {}
    found = []
    for i, (key, unit, digest) in enumerate(claim_keys(claims) if keys is None else keys):
        state = states.get(key)
        if state is None or not state.units:
            continue
        held = digests.get(key)
        if held is None:
            held = digests[key] = set(state.units.values())
        if unit in state.units or digest in held:
            found.append(i)
    return tuple(found)


def owners(claims: Sequence[Claim], states: Mapping[ItemKey, ClaimSet]) -> dict[str, str]:
    """position -> owner for the claims their bucket holds: the claim's own position (a replay), or the
    position of the other unit of the same shard and second that carried this cdr_id (a duplicate). Keyed by
    position, not cdr_id: copies of one cdr_id in different seconds of one batch are separate claims."""
    found: dict[str, str] = {}
    for claim in claims:
        state = states.get(bucket_key(claim))
        if state is None:
            continue
        if unit_id(claim.position) in state.units:
            found[claim.position] = claim.position
            continue
        digest = cdr_digest(claim.cdr_id)
        for unit, held in state.units.items():
            if held == digest:
                seq, sub = int.from_bytes(unit[:_SEQ_BYTES], "big"), int.from_bytes(unit[_SEQ_BYTES:], "big")
                shard = claim.position[: claim.position.find("/")]
                found[claim.position] = f"{shard}/{seq}/{'' if sub == _NO_SUB else sub}"
                break
    return found


def merged(
    claims: Sequence[Claim],
    states: Mapping[ItemKey, ClaimSet],
    expires_at: int,
    keys: Sequence[ClaimKeys] | None = None,
) -> dict[ItemKey, ClaimSet]:
    """The claims items after committing `claims`: each bucket's units plus the new ones, version + 1.
    `keys`: their `claim_keys`, when the caller has them."""
    after: dict[ItemKey, ClaimSet] = {}
    for key, unit, digest in claim_keys(claims) if keys is None else keys:
        state = after.get(key)
        if state is None:
            before = states.get(key) or ClaimSet()
            state = after[key] = ClaimSet(
                before.version + 1,
                dict(before.units),
                before.stored_bytes,
                max(before.expires_at, expires_at),
            )
        state.units[unit] = digest
    return after
