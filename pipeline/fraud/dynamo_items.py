"""The fraud state's DynamoDB items: their keys, their one-attribute encoding, and one item's conditional put.

Layout and the idempotency argument: dynamo_state.py's docstring and docs/fraud.md.

Windows shorter than BLOCK_S whose length divides it (the 60-s velocity windows) are kept in the item of
their BLOCK_S-long block, under attribute names tagged with their window ("c#60@<start ms>/<name>"), next to
that block's own window (the 900-s Wangiri and simultaneous windows): a call touching both costs one item
write instead of two. The watermarks are the item's, so the idempotency argument is the same per item.

An item's whole state (every window's counters and capped sets, every lane's watermark) is one binary
attribute, the orjson encoding of [counters, sets, watermarks], next to a version number that each write
increments and conditions on: DynamoDB then stores, sizes and conditions one value per item instead of
evaluating an update expression over dozens of typed attributes (what the emulator spent most of its CPU
on), and the function encodes one blob instead of building an expression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from pipeline.constants import TABLE_PARTITION_KEY, TABLE_SORT_KEY, TABLE_TTL_ATTRIBUTE
from pipeline.fraud.state import (
    POSITION_WIDTH,
    ApplyRequest,
    Contribution,
    WindowKey,
    WindowState,
    capped,
    fold,
)
from pipeline.prepared_requests import as_bytes

Item = Mapping[str, Any]
BLOCK_S = 900  # shorter windows that divide it live in their block's item (docs/fraud.md, "State")
TAG_END = "/"  # ends a window tag in an attribute name; rule counter and set names never contain it
STATE_ATTRIBUTE = "st"  # B: orjson of [counters, sets as lists, watermarks without their zero padding]
VERSION_ATTRIBUTE = "v"  # N: 1 for the first write, +1 per write; each write conditions on the one it read


def storage(key: WindowKey) -> tuple[WindowKey, str]:
    """The item that holds window `key`, and the tag of the window's attributes in it ("": its own item)."""
    window_s = key.window_s
    if window_s >= BLOCK_S or BLOCK_S % window_s:
        return key, ""
    start_ms = key.window_start_ms
    block = WindowKey(key.subscriber_token, BLOCK_S, start_ms - start_ms % (BLOCK_S * 1000))
    return block, f"{window_s}@{start_ms}{TAG_END}"


def tagged(request: ApplyRequest, item: WindowKey, tag: str) -> ApplyRequest:
    """`request` as a share of `item`: counter and set names (and set caps) prefixed by `tag`, and the
    expiry moved from the window's end to the item's (the TTL stays "end + alert TTL" for every window)."""
    if not tag:
        return request
    contributions = [
        Contribution(
            source,
            record_position,
            {tag + name: increment for name, increment in counters.items()},
            {tag + name: values for name, values in members.items()} if members else members,
        )
        for source, record_position, counters, members in request.contributions
    ]
    caps = {tag + name: cap for name, cap in request.set_caps.items()}
    expires_at_s = request.expires_at_s + (item.window_end_ms - request.key.window_end_ms) // 1000
    return ApplyRequest(item, contributions, caps, expires_at_s)


def in_items(requests: Sequence[ApplyRequest]) -> tuple[list[ApplyRequest], list[tuple[int, str]]]:
    """The requests as one request per item (windows sharing an item merged, names tagged), and per
    request the index of its item's request and its tag."""
    slots: dict[WindowKey, int] = {}
    merged: list[ApplyRequest] = []
    where: list[tuple[int, str]] = []
    for request in requests:
        key, tag = storage(request.key)
        one = tagged(request, key, tag)
        slot = slots.get(key)
        if slot is None:
            slots[key] = slot = len(merged)
            merged.append(ApplyRequest(key, one.contributions, one.set_caps, one.expires_at_s))
        else:
            other = merged[slot]
            merged[slot] = ApplyRequest(
                key,
                [*other.contributions, *one.contributions],
                {**other.set_caps, **one.set_caps},
                max(other.expires_at_s, one.expires_at_s),
            )
        where.append((slot, tag))
    return merged, where


def item_key(key: WindowKey) -> dict[str, Any]:
    return {
        TABLE_PARTITION_KEY: {"S": f"fraud#{key.subscriber_token}"},
        TABLE_SORT_KEY: {"S": f"win#{key.window_s}#{key.window_start_ms}"},
    }


def alert_key(key: WindowKey, rule_id: str) -> dict[str, Any]:
    return {
        TABLE_PARTITION_KEY: {"S": f"fraud#{key.subscriber_token}"},
        TABLE_SORT_KEY: {"S": f"alert#{rule_id}#{key.window_s}#{key.window_start_ms}"},
    }


@dataclass(slots=True)
class StoredState:
    """One item's state as read (version 0: no item, or one without our attributes) or about to be written.

    Never changed in place once built (`applied` makes a new one): a state whose write was refused is
    folded again from the same read."""

    counters: dict[str, int] = field(default_factory=dict)
    sets: dict[str, set[str]] = field(default_factory=dict)
    watermarks: dict[str, str] = field(default_factory=dict)  # lane -> highest position applied (padded)
    version: int = 0


def decode(item: Item) -> StoredState:
    """The state an item holds; an absent item (or one written in another layout) is version 0, empty."""
    version = item.get(VERSION_ATTRIBUTE)
    blob = item.get(STATE_ATTRIBUTE)
    if version is None or blob is None:
        return StoredState()
    # bytes from botocore, base64 text from the prepared path (pipeline/prepared_requests.py)
    counters, sets, watermarks = orjson.loads(as_bytes(blob["B"]))
    return StoredState(
        counters,
        {name: set(members) for name, members in sets.items()},
        {lane: high.zfill(POSITION_WIDTH) for lane, high in watermarks.items()},
        int(version["N"]),
    )


def encode(state: StoredState) -> bytes:
    """The state attribute's bytes; positions lose their zero padding (decode puts it back)."""
    return orjson.dumps(
        [
            state.counters,
            {name: list(members) for name, members in state.sets.items()},
            {lane: high.lstrip("0") or "0" for lane, high in state.watermarks.items()},
        ]
    )


def applied(
    state: StoredState, contributions: Sequence[Contribution], set_caps: Mapping[str, int]
) -> StoredState | None:
    """`state` with the contributions above its watermarks added (sets capped as `capped` says), version
    + 1; None when there are none (everything was applied before: a re-delivery writes nothing)."""
    change = fold(contributions, state.watermarks)
    if change.empty:
        return None
    counters = dict(state.counters)
    for name, increment in change.counters.items():
        counters[name] = counters.get(name, 0) + increment
    sets = dict(state.sets)
    for name, members in change.members.items():
        current = sets.get(name)
        if current is None:
            sets[name] = capped(members, 0, set_caps[name])
        elif kept := capped(members, len(current), set_caps[name]):
            sets[name] = current | kept
    watermarks = {**state.watermarks, **change.max_positions}
    return StoredState(counters, sets, watermarks, state.version + 1)


def put_request(key: WindowKey, state: StoredState, expires_at_s: int) -> dict[str, Any]:
    """Item and condition of writing `state` (version n + 1) over the version n it was folded from: the
    same for a PutItem and a transaction's Put. The optimistic lock: it holds only if nobody wrote since."""
    read_version = state.version - 1
    condition = "attribute_not_exists(#v)" if read_version == 0 else "#v = :v"
    request: dict[str, Any] = {
        "Item": {
            **item_key(key),
            STATE_ATTRIBUTE: {"B": encode(state)},
            VERSION_ATTRIBUTE: {"N": str(state.version)},
            TABLE_TTL_ATTRIBUTE: {"N": str(expires_at_s)},
        },
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#v": VERSION_ATTRIBUTE},
    }
    if read_version:
        request["ExpressionAttributeValues"] = {":v": {"N": str(read_version)}}
    return request


def window_state(state: StoredState, tag: str = "") -> WindowState:
    """The state of the window whose names carry `tag` ("": the item's own window)."""
    if not tag:
        counters = {name: value for name, value in state.counters.items() if TAG_END not in name}
        sets = {name: members for name, members in state.sets.items() if TAG_END not in name}
        return WindowState(counters=counters, sets=sets)
    skip = len(tag)
    counters = {name[skip:]: v for name, v in state.counters.items() if name.startswith(tag)}
    sets = {name[skip:]: members for name, members in state.sets.items() if name.startswith(tag)}
    return WindowState(counters=counters, sets=sets)
