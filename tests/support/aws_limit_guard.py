"""The static check behind the "AWS numbers live in one module" guards: module-level constants that re-declare
an AWS limit or price, found by evaluating each constant's literal expression and comparing it with the values
of pipeline/aws_limits.py (the Lambda's guard) or of capacity/quotas.py (the harness's guard)."""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from typing import Any

LIMIT_NAME = re.compile(r"(^|_)(MAX|MAXIMUM|LIMIT|LIMITS|QUOTA|CAP)(_|$)")
# Byte-sized limits are distinctive enough to flag whatever a constant is called.
BYTE_LIMIT_FLOOR = 1024
UNITS = {"KIB", "MIB"}  # units, not limits

Number = int | float
_OPERATORS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: operator.pow,
    ast.LShift: operator.lshift,
}


def module_values(module: Any, *, skip: frozenset[str] = frozenset()) -> set[Number]:
    """The numbers a limits module declares (upper-case names; units, booleans and `skip` left out)."""
    return {
        value
        for name, value in vars(module).items()
        if name.isupper()
        and name not in UNITS | skip
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    }


def _literal_number(node: ast.expr, known: dict[str, Number]) -> Number | None:
    """The value of a numeric expression made only of literals and the module's earlier literal constants."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value  # type: ignore[no-any-return]
    if isinstance(node, ast.Name):
        return known.get(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        operand = _literal_number(node.operand, known)
        return None if operand is None else -operand
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _literal_number(node.left, known), _literal_number(node.right, known)
        if left is None or right is None:
            return None
        try:
            return _OPERATORS[type(node.op)](left, right)  # type: ignore[no-any-return]
        except (TypeError, ArithmeticError):
            return None
    return None


def _numbers_in(node: ast.expr, known: dict[str, Number]) -> list[Number]:
    """The numbers of a literal expression, or of each element of a (nested) tuple, list, set or dict."""
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [number for element in node.elts for number in _numbers_in(element, known)]
    if isinstance(node, ast.Dict):
        return [number for element in node.values for number in _numbers_in(element, known)]
    number = _literal_number(node, known)
    return [] if number is None else [number]


def declared_limits(
    source: str,
    values: set[Number],
    *,
    limit_name: re.Pattern[str] = LIMIT_NAME,
    byte_sized_name: re.Pattern[str] | None = None,
) -> list[str]:
    """Module-level constants that re-declare an AWS limit: "NAME = value" for each one found.

    A constant counts when its value is one of `values` and its name matches `limit_name`, or the value is at
    least BYTE_LIMIT_FLOOR and (when `byte_sized_name` is given) its name matches that. A limit-named tuple,
    list, set or dict literal counts when any number in it is one of `values`.
    """
    found: list[str] = []
    known: dict[str, Number] = {}  # literal-derived constants only: imported names never count
    for statement in ast.parse(source).body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        name = target.id.upper().lstrip("_")
        limit_named = limit_name.search(name) is not None
        if isinstance(value, ast.Tuple | ast.List | ast.Set | ast.Dict):
            # A table of limits (e.g. {"batch_size": (1, 10_000)}) re-declares them just the same.
            hits = [number for number in _numbers_in(value, known) if number in values] if limit_named else []
            if hits:
                found.append(f"{target.id} = {hits}")
            continue
        number = _literal_number(value, known)
        if number is None:
            continue
        known[target.id] = number
        byte_sized = number >= BYTE_LIMIT_FLOOR and (
            byte_sized_name is None or byte_sized_name.search(name) is not None
        )
        if number in values and (limit_named or byte_sized) and name not in UNITS:
            found.append(f"{target.id} = {number}")
    return found
