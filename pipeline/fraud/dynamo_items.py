"""The fraud state's DynamoDB items: their keys, one item's conditional update, and reading one back.

Layout and the idempotency argument: dynamo_state.py's docstring and docs/fraud.md.

Windows shorter than BLOCK_S whose length divides it (the 60-s velocity windows) are kept in the item of
their BLOCK_S-long block, under attribute names tagged with their window ("c#60@<start ms>/<name>"), next to
that block's own window (the 900-s Wangiri and simultaneous windows): a call touching both costs one item
write instead of two. The watermarks are the item's, so the idempotency argument is the same per item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.constants import TABLE_PARTITION_KEY, TABLE_SORT_KEY, TABLE_TTL_ATTRIBUTE
from pipeline.fraud.state import (
    ApplyRequest,
    Contribution,
    Fold,
    WindowKey,
    WindowState,
    capped,
    fold,
    lowest_positions,
)

Item = Mapping[str, Any]
BLOCK_S = 900  # shorter windows that divide it live in their block's item (docs/fraud.md, "State")
TAG_END = "/"  # ends a window tag in an attribute name; rule counter and set names never contain it


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


def state_from_item(item: Item, tag: str = "") -> WindowState:
    """The state of the window whose attributes carry `tag` ("": the item's own window)."""
    if not tag:
        counters = {
            name[2:]: int(value["N"])
            for name, value in item.items()
            if name.startswith("c#") and TAG_END not in name
        }
        sets = {
            name[2:]: frozenset(value["SS"])
            for name, value in item.items()
            if name.startswith("s#") and TAG_END not in name
        }
        return WindowState(counters=counters, sets=sets)
    counter_prefix, set_prefix, skip = "c#" + tag, "s#" + tag, 2 + len(tag)
    counters = {name[skip:]: int(v["N"]) for name, v in item.items() if name.startswith(counter_prefix)}
    sets = {name[skip:]: frozenset(v["SS"]) for name, v in item.items() if name.startswith(set_prefix)}
    return WindowState(counters=counters, sets=sets)


def set_sizes_from_item(item: Item) -> dict[str, int]:
    """Every set of the item (all its windows, tagged names), by size."""
    return {name[2:]: len(value["SS"]) for name, value in item.items() if name.startswith("s#")}


def watermarks_from_item(item: Item) -> dict[str, str]:
    return {name[3:]: value["S"] for name, value in item.items() if name.startswith("wm#")}


Guards = Mapping[str, tuple[str, str | None]]


def first_attempt(contributions: Sequence[Contribution]) -> tuple[Fold, Guards]:
    """The whole batch, guarded by: every source's watermark is below the lowest position it brings."""
    guards = {source: ("below", lowest) for source, lowest in lowest_positions(contributions).items()}
    return fold(contributions, {}), guards


def update_request(
    key: WindowKey,
    change: Fold,
    guards: Guards,
    set_caps: Mapping[str, int],
    set_sizes: Mapping[str, int],
    expires_at_s: int,
) -> dict[str, Any]:
    """Key, update and condition of one item's write: the same for an UpdateItem and a transaction's Update.

    `set_sizes` empty = sizes unknown (no read yet): each set is capped alone and its size condition guards
    the cap."""
    names: dict[str, str] = {"#ttl": TABLE_TTL_ATTRIBUTE}
    values: dict[str, Any] = {":exp": {"N": str(expires_at_s)}}
    sets = ["#ttl = :exp"]
    adds: list[str] = []
    conditions: list[str] = []
    for index, (source, newest) in enumerate(sorted(change.max_positions.items())):
        names[f"#w{index}"], values[f":h{index}"] = f"wm#{source}", {"S": newest}
        sets.append(f"#w{index} = :h{index}")
        mode, watermark = guards[source]
        if mode == "below":
            conditions.append(f"(attribute_not_exists(#w{index}) OR #w{index} < :l{index})")
            values[f":l{index}"] = {"S": watermark or ""}
        elif watermark is None:
            conditions.append(f"attribute_not_exists(#w{index})")
        else:
            conditions.append(f"#w{index} = :l{index}")
            values[f":l{index}"] = {"S": watermark}
    for index, (name, increment) in enumerate(sorted(change.counters.items())):
        names[f"#c{index}"], values[f":c{index}"] = f"c#{name}", {"N": str(increment)}
        adds.append(f"#c{index} :c{index}")
    for index, (name, members) in enumerate(sorted(change.members.items())):
        if name not in set_sizes:
            members = capped(members, 0, set_caps[name])
        if not members:
            continue
        names[f"#s{index}"], values[f":s{index}"] = f"s#{name}", {"SS": sorted(members)}
        values[f":k{index}"] = {"N": str(set_caps[name])}
        adds.append(f"#s{index} :s{index}")
        conditions.append(f"(attribute_not_exists(#s{index}) OR size(#s{index}) < :k{index})")
    return {
        "Key": item_key(key),
        "UpdateExpression": "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else ""),
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
