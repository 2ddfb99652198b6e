"""Start MiniStack with three hot paths made independent of how much data it holds.

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

Each patch checks the installed MiniStack version and that the function it replaces exists; otherwise it is
skipped with a warning on stderr and MiniStack runs as shipped.
"""

from __future__ import annotations

import copy
import functools
import marshal
import sys
import time
from collections.abc import Callable
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


def _patch(module: ModuleType, name: str, make: Callable[[Any], Callable[..., Any]]) -> bool:
    """Replace `module.name` by `make(original)`; False (and said) when the original is not there."""
    original = getattr(module, name, None)
    if not callable(original):
        _say(f"{module.__name__}.{name} not found; left as shipped")
        return False
    setattr(module, name, make(original))
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
