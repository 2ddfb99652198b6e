"""The fraud state's DynamoDB items: their keys, one item's conditional update, and reading one back.

Layout and the idempotency argument: dynamo_state.py's docstring and docs/fraud.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.constants import TABLE_PARTITION_KEY, TABLE_SORT_KEY, TABLE_TTL_ATTRIBUTE
from pipeline.fraud.state import Contribution, Fold, WindowKey, WindowState, capped, fold, lowest_positions

Item = Mapping[str, Any]


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


def state_from_item(item: Item) -> WindowState:
    counters = {name[2:]: int(value["N"]) for name, value in item.items() if name.startswith("c#")}
    sets = {name[2:]: frozenset(value["SS"]) for name, value in item.items() if name.startswith("s#")}
    return WindowState(counters=counters, sets=sets)


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
