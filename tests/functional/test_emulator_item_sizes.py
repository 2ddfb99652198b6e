"""The emulator's item size and number fast paths (infra/local/ministack_fastpaths.py, `patch_sizes`) against
MiniStack's shipped functions: the same sizes, number checks and canonical numbers, or the same error, for
every value of a seeded random mix of AttributeValue shapes and number texts, well-formed and not. Run in
MiniStack's own interpreter, which has MiniStack."""

from __future__ import annotations

import json
import subprocess

from infra.local.emulator import FASTPATHS_SCRIPT, find_ministack_bin

VALUES = 4_000

COMPARE = r"""
import json, random, sys
sys.path.insert(0, sys.argv[1])
import ministack_fastpaths as fastpaths
from ministack.services import dynamodb

rng = random.Random(20261203)
NUMBERS = ["0", "-0", "0.000", "1", "-1", "10", "100", "123.4500", "-0.001", "1e5", "1E-3", "+7", " 12 ",
           "9" * 38, "1" + "0" * 30, "12.", ".5", "abc", "", "1e", "1e+2", "-", "17331234567890", "3.14159"]
TEXTS = ["", "a", "pk#123", "é", "日本語", "x" * 300, "mixé d", "\u0000"]

def number():
    return rng.choice(NUMBERS + [str(rng.randint(-10**12, 10**12)), f"{rng.random() * 1e6:.4f}"])

def value(depth=0):
    kind = rng.choice(["S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M", "odd"])
    if kind == "S":
        return {"S": rng.choice(TEXTS)}
    if kind == "N":
        return {"N": number()}
    if kind == "B":
        return {"B": rng.choice(["AAEC", "", "not base64!", "aGVsbG8="])}
    if kind in ("BOOL", "NULL"):
        return {kind: True}
    if kind == "SS":
        return {"SS": [rng.choice(TEXTS) for _ in range(rng.randint(1, 3))]}
    if kind == "NS":
        return {"NS": [number() for _ in range(rng.randint(1, 3))]}
    if kind == "BS":
        return {"BS": ["AAEC", "aGVsbG8="][: rng.randint(1, 2)]}
    if kind in ("L", "M") and depth < 3:
        subs = [value(depth + 1) for _ in range(rng.randint(0, 4))]
        if kind == "L":
            return {"L": subs + rng.choice([[], ["not a dict"]])}
        return {"M": {rng.choice(TEXTS) + str(i): sub for i, sub in enumerate(subs)}}
    return rng.choice([{}, {"S": "a", "N": "1"}, "S", None, {"S": 5}, {"N": 1}, {"N": True}, {"N": 1.0},
                       {"Q": "x"}, {"M": []}, {"M": {1: {"S": "a"}}}, {"L": "ab"}, {"S": b"bytes"}])

def item():
    return {rng.choice(TEXTS + ["pk", "sk", "n"]) + str(i): value() for i in range(rng.randint(0, 8))}

def outcome(function, argument):
    try:
        return function(argument)
    except Exception as error:  # the shipped function's error must be the patched one's
        return {"raised": type(error).__name__}

cases = [value() for _ in range(COUNT)] + [item() for _ in range(COUNT)] + ["not an item", None, {}]
ODD_NUMBERS = [None, 1, 1.0, True, 0, False, b"1", "1_000", "nan", "Infinity", "1e126", "1e-131", "9.99e125",
               "1" * 39, "0e999999999999999999"]
texts = NUMBERS + [number() for _ in range(COUNT)] + ODD_NUMBERS
def sizes():
    per_case = [[outcome(dynamodb._attribute_value_size, case), outcome(dynamodb._item_size_bytes, case)]
                for case in cases]
    checks = [getattr(dynamodb, name) for name in fastpaths.NUMBER_FUNCTIONS]
    # each text twice: the second pass answers from the patched caches
    return per_case + [[outcome(check, text) for check in checks] for _ in range(2) for text in texts]
shipped = sizes()
assert fastpaths.patch_sizes(dynamodb)
patched = sizes()
differ = [i for i, (a, b) in enumerate(zip(shipped, patched)) if a != b]
raised = sum(isinstance(x, dict) for row in shipped for x in row)
refused = sum(row[1] is not None for row in shipped[len(cases):])  # _number_error's messages
print(json.dumps({"cases": len(cases), "rows": len(patched), "differ": differ, "raised": raised,
                  "refused": refused, "numbers": len(texts)}))
"""


def test_patched_sizes_equal_the_shipped_ones() -> None:
    # Given MiniStack's interpreter and a seeded mix of values and items
    interpreter = find_ministack_bin().parent / "python"
    script = COMPARE.replace("COUNT", str(VALUES // 2))
    # When each case is sized by the shipped functions, then by the patched ones, in one process
    result = subprocess.run(
        [str(interpreter), "-c", script, str(FASTPATHS_SCRIPT.parent)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    outcome = json.loads(result.stdout)
    # Then every size, check and canonical number (and every error) is the same, and the mix did reach the
    # shipped error paths and refused numbers
    assert outcome["cases"] == VALUES + 3
    assert outcome["differ"] == []
    assert outcome["rows"] == VALUES + 3 + 2 * outcome["numbers"]
    assert outcome["raised"] > 0
    assert outcome["refused"] > 0
