"""Check a JSON value against a TypedDict annotation, naming the key path of every mismatch.

Just enough of the typing language for the summary contract: TypedDict (required/NotRequired keys),
list[X], dict[str, X], X | None, float (ints accepted, bools not), int, str, bool and Any.
"""

from __future__ import annotations

import math
import types
from typing import Any, NotRequired, Union, get_args, get_origin, get_type_hints, is_typeddict


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def type_problems(value: object, annotation: Any, path: str) -> list[str]:
    """Problems of `value` against `annotation`; `path` is the key path so far ("" at the root)."""
    origin = get_origin(annotation)
    if annotation is Any:
        return []
    if origin is NotRequired:
        return type_problems(value, get_args(annotation)[0], path)
    if origin in (Union, types.UnionType):
        return _union_problems(value, get_args(annotation), path)
    if is_typeddict(annotation):
        return _typeddict_problems(value, annotation, path)
    if origin in (list, dict):
        return _container_problems(value, annotation, origin, path)
    if annotation in (float, int, str, bool):
        return _scalar_problems(value, annotation, path or "<root>")
    raise TypeError(f"typecheck does not handle {annotation!r} at {path or '<root>'}")


def _union_problems(value: object, options: tuple[Any, ...], path: str) -> list[str]:
    """X | None: None passes, anything else is checked against X (other unions are not checked)."""
    if value is None and type(None) in options:
        return []
    real = [option for option in options if option is not type(None)]
    return type_problems(value, real[0], path) if len(real) == 1 else []


def _container_problems(value: object, annotation: Any, origin: Any, path: str) -> list[str]:
    where = path or "<root>"
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {_describe(value)}"]
        (item_type,) = get_args(annotation)
        return [p for i, item in enumerate(value) for p in type_problems(item, item_type, f"{path}[{i}]")]
    if not isinstance(value, dict):
        return [f"{where}: expected an object, got {_describe(value)}"]
    _, item_type = get_args(annotation)
    return [p for k, item in value.items() for p in type_problems(item, item_type, f"{path}.{k}")]


def _scalar_problems(value: object, annotation: Any, where: str) -> list[str]:
    if annotation is float:
        if not _is_number(value):
            return [f"{where}: expected a number, got {_describe(value)}"]
        if not math.isfinite(float(value)):  # type: ignore[arg-type]
            return [f"{where}: expected a finite number, got {_describe(value)}"]
        return []
    if annotation is int:
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{where}: expected an integer, got {_describe(value)}"]
        return []
    if not isinstance(value, annotation):
        return [f"{where}: expected a {annotation.__name__}, got {_describe(value)}"]
    return []


def _typeddict_problems(value: object, annotation: Any, path: str) -> list[str]:
    where = path or "<root>"
    if not isinstance(value, dict):
        return [f"{where}: expected an object, got {_describe(value)}"]
    prefix = f"{path}." if path else ""
    hints = get_type_hints(annotation)
    problems = [f"{prefix}{key}: missing" for key in sorted(annotation.__required_keys__) if key not in value]
    for key, key_type in hints.items():
        if key in value:
            problems.extend(type_problems(value[key], key_type, f"{prefix}{key}"))
    return problems
