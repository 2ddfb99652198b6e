"""Batching helpers of the DynamoDB fraud store: transaction packing, cancellation verdicts, consistent reads.

Kept apart from dynamo_state.py (what is written and why it is idempotent): these only decide how the
requests are shaped and what a cancelled transaction means for each of its items.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import Executor
from typing import Any, Literal, TypeVar

import orjson

from pipeline.aws_limits import (
    DDB_BATCH_GET_MAX_KEYS,
    DDB_TRANSACT_WRITE_MAX_BYTES,
    DDB_TRANSACT_WRITE_MAX_ITEMS,
)
from pipeline.aws_stores import size_groups
from pipeline.constants import TABLE_PARTITION_KEY, TABLE_SORT_KEY
from pipeline.fraud.errors import FraudStateError

# Our margin under the byte cap: the encoded action overstates the item a little, the request envelope
# and the expressions are not item bytes; a 10 % margin keeps us clear of any rounding on either side.
TRANSACT_BYTES_BUDGET = DDB_TRANSACT_WRITE_MAX_BYTES * 9 // 10
READ_ATTEMPTS = 5  # BatchGetItem rounds for UnprocessedKeys before the batch fails (and is retried)

Verdict = Literal["written", "retry", "read", "item"]
WRITTEN: Verdict = "written"  # the transaction committed: read the state back
RETRY_TRANSACTION: Verdict = "retry"  # cancelled by another item: its first attempt still stands
READ_FIRST: Verdict = "read"  # its own condition failed: continue the per-item path from a read
ITEM_PATH: Verdict = "item"  # anything else: the whole per-item path, first attempt included

_K = TypeVar("_K", bound=Hashable)


def _as_base64(value: Any) -> str:
    """For sizing only: a binary value as the request carries it (base64: 4 characters per 3 bytes)."""
    if isinstance(value, bytes | bytearray):
        return "=" * (-(-len(value) // 3) * 4)
    raise TypeError(f"cannot size {type(value).__name__}")


def pack(actions: Sequence[Mapping[str, Any]], indices: Sequence[int] | None = None) -> list[list[int]]:
    """Consecutive groups of action indices, each within the transaction item cap and byte budget."""
    chosen = list(range(len(actions))) if indices is None else list(indices)
    # ~2 us per action: noise next to the request
    sizes = [len(orjson.dumps(actions[i], default=_as_base64)) for i in chosen]
    return size_groups(chosen, sizes, DDB_TRANSACT_WRITE_MAX_ITEMS, TRANSACT_BYTES_BUDGET)


def error_code(error: Exception) -> str | None:
    """The AWS error code of a botocore ClientError (None for anything else)."""
    response = getattr(error, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def cancellation_verdicts(error: Exception, count: int, may_retry: bool) -> list[Verdict] | None:
    """What a failed TransactWriteItems of `count` actions means per action; None if it was no cancellation.

    Nothing of a cancelled transaction was written. An action whose own condition failed continues from a
    consistent read; one cancelled only because of another ("None") may go in one more transaction; the rest
    (TransactionConflict with another lane, throttling inside the transaction) take the per-item path.
    """
    if error_code(error) != "TransactionCanceledException":
        return None
    response: dict[str, Any] = error.response  # type: ignore[attr-defined]
    codes = [reason.get("Code", "None") for reason in response.get("CancellationReasons") or []]
    if len(codes) != count:  # reasons missing or malformed: the safe, slow path for everyone
        return [ITEM_PATH] * count
    verdicts: list[Verdict] = []
    for code in codes:
        if code == "ConditionalCheckFailed":
            verdicts.append(READ_FIRST)
        elif code in ("None", "") and may_retry:
            verdicts.append(RETRY_TRANSACTION)
        else:
            verdicts.append(ITEM_PATH)
    return verdicts


def _backoff(attempt: int) -> None:
    time.sleep(min(0.02 * 2**attempt, 0.5) * random.uniform(0.5, 1.0))


def read_items(
    client: Any,
    table: str,
    keys: Sequence[_K],
    item_key: Callable[[_K], dict[str, Any]],
    executor: Executor | None = None,
    *,
    consistent: bool = True,
) -> dict[_K, Mapping[str, Any]]:
    """BatchGetItem of `keys` (<= 100 per request, chunks on `executor`), strongly consistent unless told
    otherwise; absent = {}."""
    step = DDB_BATCH_GET_MAX_KEYS
    chunks = [keys[start : start + step] for start in range(0, len(keys), step)]
    found: dict[_K, Mapping[str, Any]] = {}
    reads = (
        executor.map(lambda c: _read_chunk(client, table, c, item_key, consistent), chunks)
        if executor
        else (_read_chunk(client, table, c, item_key, consistent) for c in chunks)
    )
    for chunk_items in reads:
        found.update(chunk_items)
    return found


def _read_chunk(
    client: Any, table: str, keys: Sequence[_K], item_key: Callable[[_K], dict[str, Any]], consistent: bool
) -> dict[_K, Mapping[str, Any]]:
    by_address = {_address(item_key(key)): key for key in keys}
    found: dict[_K, Mapping[str, Any]] = {key: {} for key in keys}
    request: dict[str, Any] = {table: {"Keys": [item_key(key) for key in keys], "ConsistentRead": consistent}}
    for attempt in range(READ_ATTEMPTS):
        response = client.batch_get_item(RequestItems=request)
        for item in response.get("Responses", {}).get(table, []):
            found[by_address[_address(item)]] = item
        request = response.get("UnprocessedKeys") or {}
        if not request:
            return found
        for table_request in request.values():  # do not rely on the service echoing it back
            table_request["ConsistentRead"] = consistent
        _backoff(attempt)
    raise FraudStateError(
        f"BatchGetItem on {table} left keys unprocessed after {READ_ATTEMPTS} rounds; retry the batch"
    )


def _address(item: Mapping[str, Any]) -> tuple[str, str]:
    return item[TABLE_PARTITION_KEY]["S"], item[TABLE_SORT_KEY]["S"]
