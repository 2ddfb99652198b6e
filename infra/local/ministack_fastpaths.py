"""Start MiniStack with its hot paths made independent of how much data it holds, and with less repeated work.

Run by infra/local/emulator.py with MiniStack's own interpreter (.venv-emu/, which has MiniStack but not this
project), so this file imports only the standard library and MiniStack.

Why: MiniStack 1.5.33 does, on EVERY Kinesis request, a full scan of every record of the stream for the
retention cutoff (`_expire_records`) and of every shard iterator ever issued for the 5-minute expiry
(`_expire_iterators`; each GetRecords issues one). Both grow with the run: after a minute at 2,000 records/s
the scans took 43 % of the emulator's CPU (py-spy, 4-shard local stack), PutRecords and GetRecords latency
kept rising, and so did the iterator age the capacity model fits — an artefact of the emulator, not of
Kinesis. DynamoDB re-tokenizes and re-checks the grammar of the same condition/update expression strings
for every item (twice per item in TransactWriteItems: validation, then execution), and deep-copies each item
it updates four to six times with `copy.deepcopy` (snapshots for validation, old/new images, SET's
pre-update view): 40 % of the emulator's CPU once the Kinesis scans were gone.

What changes (same results, less work):
- records: arrival timestamps are appended in order per shard, so only an expired *prefix* is dropped, and
  nothing is scanned while the oldest record is inside the retention period;
- iterators: swept at most once per second (GetRecords still rejects an expired iterator by its own age);
- expressions: `_tokenize` and `_condition_syntax_error` are pure functions of their string arguments, so
  they are memoised (the cached token list is copied on every call; its tokens are tuples);
- copies: DynamoDB's `copy.deepcopy` becomes a marshal round trip for values made of exact builtin types
  (the dicts, lists and strings items are made of), `copy.deepcopy` for anything else. Marshal (format 4)
  keeps aliasing and cycles as deepcopy does; a bytearray would come back as bytes (items hold none).
- TransactWriteItems applies each Update's expression three times: an up-front probe whose only use is
  the empty secondary-index key check (nothing to check on a table without indexes), a Phase-1 probe
  (type errors, item size, nesting), then the write on two more deep copies. With the patch the up-front
  probe runs only for tables with indexes, and the write stores the Phase-1 probe: the same expression
  applied to the same item (a transaction touches an item once, the function never yields, and
  `_apply_update_expression` deep-copies its input first), so the same result with one application and
  two copies fewer per item; that item's size, measured in Phase 1 and unchanged since, is reused for the
  consumed capacity; and its 4 MB check, which re-encodes the whole request as JSON, runs only when the
  request's body is over 1/8 of it (REDUMP_GROWTH_MAX: a re-encoding cannot grow more). Done by rewriting
  the function's source, each edit checked to match once.

- sizes and number checks: `_item_size_bytes` and `_attribute_value_size` answer S and N strings, BOOL,
  NULL and M (str keys) inline, anything else through the shipped function; `_number_size_bytes`,
  `_number_error` and `_ddb_canonicalize_number` are pure functions of a number's text, memoised for str
  arguments (with the fraud stage, each 500-record batch sized ~3,900 items and ran ~7,700 `_number_error`
  checks: cProfile of bench_fraud_emulator).

One patch adds what MiniStack leaves out rather than saving work: BatchGetItem answers without
ConsumedCapacity (1.5.33), so the handler's meter counted those reads as unmetered requests and a local run
priced no read units for them (the fraud state reads its items with one consistent BatchGetItem per 100
every batch; ledger reads its claims items). With the patch a request with ReturnConsumedCapacity TOTAL or
INDEXES gets, per table, DynamoDB's documented charge: each key read as a GetItem, its item's size rounded up
to the next 4 KB, 1 read unit per 4 KB strongly consistent and 0.5 eventually consistent; a key with no item
is charged one such unit (the minimum of a read), as MiniStack's own GetItem charges it.

Each patch checks the installed MiniStack version and that the function it replaces exists; otherwise it is
skipped with a warning on stderr and MiniStack runs as shipped.
"""

from __future__ import annotations

import copy
import functools
import inspect
import marshal
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from importlib import import_module, metadata
from types import ModuleType, SimpleNamespace
from typing import Any

PATCHED_VERSION = "1.5.33"  # the version these patches were written and measured against
ITERATOR_SWEEP_INTERVAL_S = 1.0
EXPRESSION_CACHE_SIZE = 4096  # distinct expression strings; a handler uses a few dozen


def _say(message: str) -> None:
    print(f"cdrcap ministack_fastpaths: {message}", file=sys.stderr, flush=True)


def expire_records_prefix(stream: dict[str, Any]) -> None:
    """Drop records older than the retention period: the same result as MiniStack's full filter when
    arrival times are non-decreasing per shard (they are: each append stamps `time.time()`)."""
    cutoff = time.time() - stream["RetentionPeriodHours"] * 3600
    for shard in stream["shards"].values():
        records = shard["records"]
        if not records or records[0]["ApproximateArrivalTimestamp"] >= cutoff:
            continue
        keep_from = len(records)
        for index, record in enumerate(records):
            if record["ApproximateArrivalTimestamp"] >= cutoff:
                keep_from = index
                break
        shard["records"] = records[keep_from:]


def throttled(sweep: Callable[[], None], interval_s: float) -> Callable[[], None]:
    """`sweep` at most once per `interval_s` (monotonic clock)."""
    last_run_s = [float("-inf")]

    def run() -> None:
        now_s = time.monotonic()
        if now_s - last_run_s[0] >= interval_s:
            last_run_s[0] = now_s
            sweep()

    return run


def memoised_tokens(tokenize: Callable[[str], list[Any]]) -> Callable[[str], list[Any]]:
    cached = functools.lru_cache(maxsize=EXPRESSION_CACHE_SIZE)(lambda expr: tuple(tokenize(expr)))

    def tokens(expr: str) -> list[Any]:
        return list(cached(expr))  # callers index and may slice; a fresh list keeps the cache immutable

    return tokens


def builtin_deepcopy(value: Any, memo: Any = None) -> Any:
    """`copy.deepcopy` for values made only of exact builtin types: a marshal round trip, ~6x faster on an
    item. Anything marshal refuses (defaultdict and other subclasses, Decimal, objects) goes to deepcopy."""
    try:
        return marshal.loads(marshal.dumps(value))
    except ValueError:
        return copy.deepcopy(value, memo)


NUMBER_CACHE_SIZE = 65_536  # distinct number strings (counters, epoch seconds, amounts): a few MB at most


def memoised_for_strings(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`function` of one argument, a pure function of its text when that is a str (MiniStack's number
    checks and sizes are), memoised for strings; anything else goes to `function` as shipped (an lru_cache
    key would make 1.0 and True one entry). The answers (int, str or None) are immutable."""
    cached = functools.lru_cache(maxsize=NUMBER_CACHE_SIZE)(function)

    def answer(text: Any) -> Any:
        return cached(text) if type(text) is str else function(text)

    return answer


def item_sizes(
    value_size_shipped: Callable[[Any], int], number_size: Callable[[Any], int]
) -> tuple[Callable[[Any], int], Callable[[Any], int]]:
    """(item_size, value_size): `_item_size_bytes` and `_attribute_value_size` with the common shapes (S and N
    strings, BOOL, NULL, M of str keys, L) answered inline, the rest by the shipped `value_size_shipped`
    (whose recursion, through the module's name, comes back here). Same sums, fewer calls: the sizes were
    ~20 % of the emulator's TransactWriteItems time (cProfile, bench_fraud_emulator with fraud on)."""

    def value_size(value: Any) -> int:
        if type(value) is dict and len(value) == 1:
            for vtype, vval in value.items():
                if vtype == "S" and type(vval) is str:
                    return len(vval) if vval.isascii() else len(vval.encode("utf-8"))
                if vtype == "N" and type(vval) is str:
                    return number_size(vval)
                if vtype == "BOOL" or vtype == "NULL":
                    return 1
                if vtype == "M" and type(vval) is dict:
                    total = 3
                    for name, sub in vval.items():
                        if type(name) is not str:
                            return value_size_shipped(value)
                        total += 1 + (len(name) if name.isascii() else len(name.encode("utf-8")))
                        total += value_size(sub)
                    return total
        return value_size_shipped(value)

    def item_size(item: Any) -> int:
        if not isinstance(item, dict):
            return 0
        total = 0
        for name, value in item.items():
            total += len(name) if type(name) is str and name.isascii() else len(name.encode("utf-8"))
            total += value_size(value)
        return total

    return item_size, value_size


# (text in MiniStack 1.5.33's `_transact_write_items`, replacement): each must match exactly once
TRANSACT_WRITE_EDITS = (
    (  # the up-front probe only feeds the empty secondary-index key check
        '        elif op_type == "Update" and op.get("UpdateExpression"):\n',
        '        elif op_type == "Update" and op.get("UpdateExpression") and _cdrcap_has_indexes(tbl):\n',
    ),
    ("    val_reasons = {}\n", "    val_reasons = {}\n    _cdrcap_probes = {}\n    _cdrcap_sizes = {}\n"),
    (  # the written item is the probe: its size is known from Phase 1 for the capacity below
        "                    elif _item_size_bytes(probe) > _DDB_ITEM_MAX_BYTES:\n",
        "                    elif _cdrcap_sized(_cdrcap_sizes, probe) > _DDB_ITEM_MAX_BYTES:\n",
    ),
    (
        "                     _item_size_bytes(new_it) if new_it else 0)\n",
        "                     _cdrcap_size_of(_cdrcap_sizes, new_it) if new_it else 0)\n",
    ),
    (  # the 4 MB check re-encodes the whole request: only when its body could be that large
        '        if len(json.dumps(data).encode("utf-8")) > _DDB_TXN_MAX_BYTES:\n',
        "        if _cdrcap_may_exceed(_DDB_TXN_MAX_BYTES) and "
        'len(json.dumps(data).encode("utf-8")) > _DDB_TXN_MAX_BYTES:\n',
    ),
    (  # _apply_update_expression deep-copies its input first: the copy before it is redundant
        "                probe = copy.deepcopy(existing) if existing else dict(key_src)\n",
        "                probe = existing if existing else dict(key_src)\n",
    ),
    (
        "                    imsg = _index_key_type_reason(tbl, probe)\n",
        "                    _cdrcap_probes[idx] = probe\n"
        "                    imsg = _index_key_type_reason(tbl, probe)\n",
    ),
    (
        "    for transact in items_list:\n"
        "        op_type, op = _extract_transact_op(transact)\n"
        '        if op is None or op_type == "ConditionCheck":\n',
        "    for _cdrcap_idx, transact in enumerate(items_list):\n"
        "        op_type, op = _extract_transact_op(transact)\n"
        '        if op is None or op_type == "ConditionCheck":\n',
    ),
    (
        "            item = copy.deepcopy(old_item) if old_item else dict(key)\n"
        '            ue = op.get("UpdateExpression", "")\n'
        "            if ue:\n",
        "            _cdrcap_probe = _cdrcap_probes.pop(_cdrcap_idx, None)\n"
        "            item = _cdrcap_probe if _cdrcap_probe is not None else (\n"
        "                copy.deepcopy(old_item) if old_item else dict(key))\n"
        '            ue = "" if _cdrcap_probe is not None else op.get("UpdateExpression", "")\n'
        "            if ue:\n",
    ),
)


def has_indexes(table: dict[str, Any]) -> bool:
    return bool(table.get("GlobalSecondaryIndexes") or table.get("LocalSecondaryIndexes"))


# json.dumps of a parsed JSON body is at most this many times the body: a string character grows at most 3x
# (a 2-4 byte UTF-8 character or a 2-byte escape becomes a 6- or 12-character escape), a separator 2x
# ("," -> ", "), a JSON number at most ~4.5x ("1e15" -> "1000000000000000.0"); key duplicates only shrink it
REDUMP_GROWTH_MAX = 8
_body_bytes: ContextVar[int | None] = ContextVar("cdrcap_dynamodb_body_bytes", default=None)


def body_noted(handle_request: Callable[..., Any]) -> Callable[..., Any]:
    """DynamoDB's `handle_request`, noting the request body's length for the request's own task."""

    async def noted(method: str, path: str, headers: Any, body: bytes, query_params: Any) -> Any:
        token = _body_bytes.set(len(body) if body else 0)
        try:
            return await handle_request(method, path, headers, body, query_params)
        finally:
            _body_bytes.reset(token)

    return noted


def may_exceed(cap_bytes: int) -> bool:
    """False only when the body being handled is too small for its re-encoding to pass `cap_bytes`."""
    body_bytes = _body_bytes.get()
    return body_bytes is None or body_bytes * REDUMP_GROWTH_MAX > cap_bytes


Sizes = dict[int, tuple[Any, int]]


def size_memo(
    item_size: Callable[[Any], int],
) -> tuple[Callable[[Sizes, Any], int], Callable[[Sizes, Any], int]]:
    """(sized, size_of): `sized` measures an item and remembers it (keyed by identity, the item kept alive
    with its size so the key cannot be reused within the call); `size_of` answers from it or measures."""

    def sized(sizes: Sizes, item: Any) -> int:
        size = item_size(item)
        sizes[id(item)] = (item, size)
        return size

    def size_of(sizes: Sizes, item: Any) -> int:
        known = sizes.get(id(item))
        return known[1] if known is not None and known[0] is item else item_size(item)

    return sized, size_of


def edited_source(source: str, edits: tuple[tuple[str, str], ...]) -> str | None:
    """`source` with every (old, new) edit applied; None unless each `old` occurs exactly once."""
    for old, new in edits:
        if source.count(old) != 1:
            return None
        source = source.replace(old, new)
    return source


def _patch(module: ModuleType, name: str, make: Callable[[Any], Callable[..., Any]]) -> bool:
    """Replace `module.name` by `make(original)`; False (and said) when the original is not there."""
    original = getattr(module, name, None)
    if not callable(original):
        _say(f"{module.__name__}.{name} not found; left as shipped")
        return False
    setattr(module, name, make(original))
    return True


def rewrite_transact_write_items(dynamodb: ModuleType) -> bool:
    """Replace `_transact_write_items` by its source with TRANSACT_WRITE_EDITS (False, and said, when the
    source does not match: MiniStack then runs that function as shipped)."""
    original = getattr(dynamodb, "_transact_write_items", None)
    edited = None
    if inspect.isfunction(original):
        try:
            edited = edited_source(inspect.getsource(original), TRANSACT_WRITE_EDITS)
        except OSError:  # no source file
            edited = None
    if edited is None:
        _say("dynamodb._transact_write_items is not the source the edits were written for; left as shipped")
        return False
    dynamodb._cdrcap_has_indexes = has_indexes  # type: ignore[attr-defined]
    dynamodb._cdrcap_may_exceed = may_exceed  # type: ignore[attr-defined]
    sized, size_of = size_memo(dynamodb._item_size_bytes)
    dynamodb._cdrcap_sized, dynamodb._cdrcap_size_of = sized, size_of  # type: ignore[attr-defined]
    exec(compile(edited, original.__code__.co_filename, "exec"), vars(dynamodb))  # type: ignore[union-attr]
    return True


READ_UNIT_BYTES = 4096  # a read unit covers an item of up to 4 KB (DynamoDB developer guide, read operations)

BATCH_GET_EDITS: tuple[tuple[str, str], ...] = (
    (
        "    responses = {}\n    unprocessed = {}\n",
        "    responses = {}\n    unprocessed = {}\n    _cdrcap_units = {}\n",
    ),
    (
        '            item = table["items"].get(pk_val, {}).get(sk_val)\n',
        '            item = table["items"].get(pk_val, {}).get(sk_val)\n'
        "            _cdrcap_units[table_name] = _cdrcap_units.get(table_name, 0.0) + _cdrcap_read_units(\n"
        "                _item_size_bytes(item) if item else 0, config)\n",
    ),
    (
        '    return json_response({"Responses": responses, "UnprocessedKeys": unprocessed})\n',
        "    return json_response(_cdrcap_with_capacity(\n"
        '        {"Responses": responses, "UnprocessedKeys": unprocessed}, data, _cdrcap_units))\n',
    ),
)


def read_units(item_bytes: int, config: Any) -> float:
    """One key of a BatchGetItem, read as a GetItem: started 4 KB (at least one) x 1 (consistent) or 0.5."""
    started = max(1, -(-item_bytes // READ_UNIT_BYTES))
    consistent = isinstance(config, dict) and config.get("ConsistentRead") is True
    return started * (1.0 if consistent else 0.5)


def with_capacity(answer: dict[str, Any], data: dict[str, Any], units: dict[str, float]) -> dict[str, Any]:
    """The answer with ConsumedCapacity per table when the request asked for it (TOTAL or INDEXES)."""
    wanted = data.get("ReturnConsumedCapacity", "NONE")
    if wanted not in ("TOTAL", "INDEXES"):
        return answer
    consumed = []
    for table, capacity in units.items():
        entry: dict[str, Any] = {"TableName": table, "CapacityUnits": capacity}
        if wanted == "INDEXES":
            entry["Table"] = {"CapacityUnits": capacity}
        consumed.append(entry)
    return {**answer, "ConsumedCapacity": consumed}


def rewrite_batch_get_item(dynamodb: ModuleType) -> bool:
    """Replace `_batch_get_item` by its source with BATCH_GET_EDITS (ConsumedCapacity added); False, and
    said, when the source does not match."""
    original = getattr(dynamodb, "_batch_get_item", None)
    edited = None
    if inspect.isfunction(original):
        try:
            edited = edited_source(inspect.getsource(original), BATCH_GET_EDITS)
        except OSError:
            edited = None
    if edited is None:
        _say("dynamodb._batch_get_item is not the source the edits were written for; left as shipped")
        return False
    dynamodb._cdrcap_read_units, dynamodb._cdrcap_with_capacity = read_units, with_capacity  # type: ignore[attr-defined]
    exec(compile(edited, original.__code__.co_filename, "exec"), vars(dynamodb))  # type: ignore[union-attr]
    return True


NUMBER_FUNCTIONS = ("_number_size_bytes", "_number_error", "_ddb_canonicalize_number")


def patch_sizes(dynamodb: ModuleType) -> bool:
    """The module's number checks and sizes memoised (`memoised_for_strings`), its item and attribute value
    sizes replaced by `item_sizes` (False, and said, when one of them is missing)."""
    names = (*NUMBER_FUNCTIONS, "_attribute_value_size", "_item_size_bytes")
    if not all(inspect.isfunction(getattr(dynamodb, name, None)) for name in names):
        _say("dynamodb's number and item size functions are not all there; left as shipped")
        return False
    for name in NUMBER_FUNCTIONS:
        setattr(dynamodb, name, memoised_for_strings(getattr(dynamodb, name)))
    item_size, value_size = item_sizes(dynamodb._attribute_value_size, dynamodb._number_size_bytes)
    dynamodb._attribute_value_size = value_size  # type: ignore[attr-defined]
    dynamodb._item_size_bytes = item_size  # type: ignore[attr-defined]
    return True


def apply_patches() -> list[str]:
    """Patch the loaded MiniStack modules; return what was patched."""
    try:
        version = metadata.version("ministack")
    except metadata.PackageNotFoundError:
        version = "unknown"
    if version != PATCHED_VERSION:
        _say(f"MiniStack {version} is not {PATCHED_VERSION}; running it unpatched")
        return []
    kinesis = import_module("ministack.services.kinesis")
    dynamodb = import_module("ministack.services.dynamodb")
    patches: list[tuple[ModuleType, str, Callable[[Any], Callable[..., Any]]]] = [
        (kinesis, "_expire_records", lambda _: expire_records_prefix),
        (kinesis, "_expire_iterators", lambda sweep: throttled(sweep, ITERATOR_SWEEP_INTERVAL_S)),
        (dynamodb, "_tokenize", memoised_tokens),
        (dynamodb, "_condition_syntax_error", functools.lru_cache(maxsize=EXPRESSION_CACHE_SIZE)),
    ]
    patched = [f"{m.__name__.rsplit('.', 1)[1]}.{name}" for m, name, make in patches if _patch(m, name, make)]
    if isinstance(getattr(dynamodb, "copy", None), ModuleType):
        dynamodb.copy = SimpleNamespace(deepcopy=builtin_deepcopy, copy=copy.copy)  # type: ignore[attr-defined]
        patched.append("dynamodb copy.deepcopy")
    if patch_sizes(dynamodb):  # before the rewrite below, which keeps the item size function it finds
        patched.append("dynamodb number checks and item sizes")
    if rewrite_transact_write_items(dynamodb) and _patch(dynamodb, "handle_request", body_noted):
        patched.append("dynamodb._transact_write_items (one update application per item)")
    if rewrite_batch_get_item(dynamodb):
        patched.append("dynamodb._batch_get_item (ConsumedCapacity)")
    return patched


def main() -> int:
    patched = apply_patches()
    _say("patched " + (", ".join(patched) if patched else "nothing"))
    from ministack.app import main as ministack_main  # after the patches, as the shipped script imports it

    sys.argv[0] = "ministack"
    result = ministack_main()
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
