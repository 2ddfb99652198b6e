"""The DynamoDB FraudStateStore: one conditional UpdateItem per (subscriber, window) item per batch.

Item layout (in the aggregates table, under its own key prefix so it never collides with aggregates):
  pk = "fraud#<subscriber token>", sk = "win#<window_s>#<window start ms>"
  "c#<rule>.<name>" N   counters (ADD)
  "s#<rule>.<name>" SS  capped distinct sets of keyed member hashes / call intervals (ADD = set union)
  "wm#<source>"     S   highest record position applied from that source: "<shard>/<partition key hash>",
                        one in-order lane of records (zero-padded sequence number)
  expires_at        N   TTL
Alert markers: sk = "alert#<rule>#<window_s>#<window start ms>", put only if absent.

Idempotency argument (docs/fraud.md has the long form): the records of one (shard, partition key) reach
the function in sequence order, whatever the parallelization factor, and a re-delivery re-sends a suffix of
them. The first attempt writes with, per source, `wm < lowest position this batch brings`, so it succeeds
exactly when none of them was applied before. When it fails (a re-delivery, or a set at its cap), one
consistent read gives the watermarks and set sizes; the records above them are re-folded and written with
`wm = <value read>`, an optimistic lock, so no record is ever applied twice.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.constants import TABLE_PARTITION_KEY, TABLE_SORT_KEY, TABLE_TTL_ATTRIBUTE
from pipeline.fraud.errors import FraudStateError
from pipeline.fraud.state import Contribution, Fold, WindowKey, WindowState, capped, fold, lowest_positions

MAX_ATTEMPTS = 4  # beyond this the batch fails and Lambda retries it: contention, not data, is the problem


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


def _state_from_item(item: Mapping[str, Any]) -> WindowState:
    counters = {name[2:]: int(value["N"]) for name, value in item.items() if name.startswith("c#")}
    sets = {name[2:]: frozenset(value["SS"]) for name, value in item.items() if name.startswith("s#")}
    return WindowState(counters=counters, sets=sets)


def _is_conditional_failure(error: Exception) -> bool:
    response = getattr(error, "response", None)
    return (
        isinstance(response, dict)
        and response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
    )


class DynamoDBStateStore:
    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._client = dynamodb_client
        self._table_name = table_name
        self._writes_lock = threading.Lock()  # the engine may apply items from several threads
        self.writes = 0

    def _count_write(self) -> None:
        with self._writes_lock:
            self.writes += 1

    def apply(
        self,
        key: WindowKey,
        contributions: Sequence[Contribution],
        set_caps: Mapping[str, int],
        expires_at_s: int,
    ) -> WindowState:
        change = fold(contributions, {})
        # First attempt, no read: every source's watermark must be below the lowest position it brings.
        guards: dict[str, tuple[str, str | None]] = {
            source: ("below", lowest) for source, lowest in lowest_positions(contributions).items()
        }
        set_sizes: dict[str, int] = {}  # unknown before a read: the size condition guards the cap
        for _attempt in range(MAX_ATTEMPTS):
            try:
                return self._write(key, change, guards, set_caps, set_sizes, expires_at_s)
            except Exception as error:
                if not _is_conditional_failure(error):
                    raise
            state, watermarks = self._read(key)
            change = fold(contributions, watermarks)
            if change.empty:
                return state  # everything in this batch was applied before: a re-delivery
            set_sizes = {name: len(members) for name, members in state.sets.items()}
            change.members = {
                name: kept
                for name, members in change.members.items()
                if (kept := capped(members, set_sizes.get(name, 0), set_caps[name]))
            }
            guards = {source: ("equals", watermarks.get(source)) for source in change.max_positions}
        raise FraudStateError(
            f"window item {key} kept changing under {MAX_ATTEMPTS} attempts; retry the batch"
        )

    def _read(self, key: WindowKey) -> tuple[WindowState, dict[str, str]]:
        response = self._client.get_item(TableName=self._table_name, Key=item_key(key), ConsistentRead=True)
        item = response.get("Item", {})
        watermarks = {name[3:]: value["S"] for name, value in item.items() if name.startswith("wm#")}
        return _state_from_item(item), watermarks

    def _write(
        self,
        key: WindowKey,
        change: Fold,
        guards: Mapping[str, tuple[str, str | None]],
        set_caps: Mapping[str, int],
        set_sizes: Mapping[str, int],
        expires_at_s: int,
    ) -> WindowState:
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
        expression = "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else "")
        self._count_write()
        response = self._client.update_item(
            TableName=self._table_name,
            Key=item_key(key),
            UpdateExpression=expression,
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return _state_from_item(response.get("Attributes", {}))

    def read(self, key: WindowKey) -> WindowState:
        response = self._client.get_item(TableName=self._table_name, Key=item_key(key))
        return _state_from_item(response.get("Item", {}))

    def claim_alert(self, key: WindowKey, rule_id: str, expires_at_s: int) -> bool:
        self._count_write()
        try:
            self._client.put_item(
                TableName=self._table_name,
                Item={**alert_key(key, rule_id), TABLE_TTL_ATTRIBUTE: {"N": str(expires_at_s)}},
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": TABLE_PARTITION_KEY},
            )
        except Exception as error:
            if _is_conditional_failure(error):
                return False
            raise
        return True

    def release_alert(self, key: WindowKey, rule_id: str) -> None:
        self._count_write()
        self._client.delete_item(TableName=self._table_name, Key=alert_key(key, rule_id))
