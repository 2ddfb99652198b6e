"""Run by MiniStack's own interpreter (tests/functional/test_emulator_fastpaths.py): the memoised DynamoDB
functions of infra/local/ministack_fastpaths.py against MiniStack's originals on the same inputs.

Standard library and MiniStack only (this project is not installed in .venv-emu). Exits 0 when every
result matches, else prints the first difference and exits 1.
"""

from __future__ import annotations

import copy
import sys
from importlib import import_module
from typing import Any

from infra.local.ministack_fastpaths import memoised_size, memoised_update

ITEM: dict[str, Any] = {
    "pk": {"S": "fraud#tok"},
    "sk": {"S": "win#60#0"},
    "c#velocity.calls": {"N": "3"},
    "s#simultaneous.calls": {"SS": ["1:2:a", "3:4:b"]},
    "wm#shard-0/abc": {"S": "0007"},
    "flag": {"BOOL": True},
    "nested": {"M": {"list": {"L": [{"N": "1"}, {"S": "x"}]}}},
}
UPDATES: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    (
        "SET #ttl = :exp, #w0 = :h0 ADD #c0 :c0, #s0 :s0",
        {":exp": {"N": "99"}, ":h0": {"S": "0009"}, ":c0": {"N": "2"}, ":s0": {"SS": ["5:6:c", "1:2:a"]}},
        {
            "#ttl": "expires_at",
            "#w0": "wm#shard-0/abc",
            "#c0": "c#velocity.calls",
            "#s0": "s#simultaneous.calls",
        },
    ),
    ("SET #a = if_not_exists(#a, :z) REMOVE #f", {":z": {"N": "0"}}, {"#a": "fresh", "#f": "flag"}),
    ("ADD #c :one", {":one": {"N": "1"}}, {"#c": "c#new"}),
    ("ADD #c :one", {":one": {"N": "5"}}, {"#c": "c#new"}),  # same expression, other values
    ("ADD #c :one", {":one": {"N": "5"}}, {"#c": "c#velocity.calls"}),  # and other names
    ("SET #n.#l[1] = :v", {":v": {"S": "y"}}, {"#n": "nested", "#l": "list"}),
]
BAD_UPDATE = ("ADD #c :s", {":s": {"S": "not a number"}}, {"#c": "c#velocity.calls"})


def outcome(function: Any, *args: Any) -> Any:
    try:
        return ("ok", function(*copy.deepcopy(args)))
    except ValueError as error:
        return ("error", str(error))


def main() -> int:
    dynamodb = import_module("ministack.services.dynamodb")
    shipped_update, shipped_size = dynamodb._apply_update_expression, dynamodb._item_size_bytes
    update, size = memoised_update(shipped_update), memoised_size(shipped_size)
    for item in (ITEM, {"pk": {"S": "fraud#tok"}, "sk": {"S": "win#60#0"}}):
        for expr, values, names in [*UPDATES, BAD_UPDATE]:
            expected = outcome(shipped_update, item, expr, values, names)
            for attempt in range(3):  # a miss, then hits; a caller mutating a result must not reach the cache
                got = outcome(update, item, expr, values, names)
                if got != expected:
                    print(f"update {expr!r} attempt {attempt}: {got!r} != {expected!r}")
                    return 1
                if got[0] == "ok":
                    got[1][0]["pk"]["S"] = "mutated by the caller"
                    got[1][1].add("mutated")
            if expected[0] == "ok":
                new_item = expected[1][0]
                for _ in range(2):
                    if size(new_item) != shipped_size(new_item):
                        print(f"size of {new_item!r}: {size(new_item)} != {shipped_size(new_item)}")
                        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
