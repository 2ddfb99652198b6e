"""Typed reading of one TOML table, with errors that name the full key path and the fix.

`Table(data, "tool.cdrcap.profiles.demo")` hands out checked values and, at `done()`, rejects keys nobody
asked for, so a typo such as `step_duraton_s` is an error rather than a silently ignored default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdrcap.errors import CdrcapError

_MISSING = object()


def _show(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class ConfigError(CdrcapError):
    """Bad configuration: names the key path, the bad value and what is expected."""


class Table:
    def __init__(self, data: object, path: str, source: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: {path}: expected a table, got {_show(data)}")
        self.data: Mapping[str, Any] = data
        self.path = path
        self.source = source
        self._used: set[str] = set()

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key_path: str, expected: str, value: object) -> ConfigError:
        return ConfigError(f"{self.source}: {key_path}: expected {expected}, got {_show(value)}")

    def _get(self, key: str, default: object) -> object:
        self._used.add(key)
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise ConfigError(f"{self.source}: {self.key_path(key)}: missing (see docs/config.md)")
            return default
        return value

    def number(self, key: str, default: object = _MISSING, **limits: Any) -> float:
        """A number; `limits` are check_number's low, high and positive."""
        return self.check_number(self._get(key, default), self.key_path(key), **limits)

    def check_number(
        self,
        value: object,
        key_path: str,
        *,
        low: float | None = None,
        high: float | None = None,
        positive: bool = False,
        integer: bool = False,
    ) -> float:
        noun = "integer" if integer else "number"
        kind = f"an {noun}" if integer else f"a {noun}"
        expected = f"a positive {noun}" if positive else kind
        if low is not None and high is not None:
            expected = f"{kind} in [{low:g}, {high:g}]"
        elif low is not None:
            expected = f"{kind} >= {low:g}"
        if not _is_number(value) or (integer and not isinstance(value, int)):
            raise self.fail(key_path, expected, value)
        number = float(value)  # type: ignore[arg-type]
        out_of_range = (
            (positive and number <= 0)
            or (low is not None and number < low)
            or (high is not None and number > high)
        )
        if out_of_range:
            raise self.fail(key_path, expected, value)
        return number

    def integer(self, key: str, default: object = _MISSING, **limits: Any) -> int:
        """An integer; `limits` are check_number's low, high and positive."""
        return int(self.check_number(self._get(key, default), self.key_path(key), integer=True, **limits))

    def string(self, key: str, default: object = _MISSING, *, choices: tuple[str, ...] = ()) -> str:
        value = self._get(key, default)
        if not isinstance(value, str) or (choices and value not in choices):
            expected = f"one of {', '.join(choices)}" if choices else "a string"
            raise self.fail(self.key_path(key), expected, value)
        return value

    def optional_string(self, key: str, default: str | None = None) -> str | None:
        value = self._get(key, default)
        if value is not None and not isinstance(value, str):
            raise self.fail(self.key_path(key), "a string", value)
        return value

    def boolean(self, key: str, default: object = _MISSING) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.fail(self.key_path(key), "true or false", value)
        return value

    def positive_numbers(self, key: str, default: object = _MISSING) -> tuple[float, ...]:
        value = self._get(key, default)
        if not isinstance(value, list) or not value:
            raise self.fail(self.key_path(key), "a non-empty list of positive numbers", value)
        return tuple(
            self.check_number(v, f"{self.key_path(key)}[{i}]", positive=True) for i, v in enumerate(value)
        )

    def strings(self, key: str, default: object = _MISSING) -> tuple[str, ...]:
        value = self._get(key, default)
        if not isinstance(value, list):
            raise self.fail(self.key_path(key), "a list of strings", value)
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self.fail(f"{self.key_path(key)}[{index}]", "a string", item)
        return tuple(value)

    def table(self, key: str, default: object = _MISSING) -> Table:
        return Table(self._get(key, default), self.key_path(key), self.source)

    def done(self) -> None:
        """Reject keys nobody read: they are typos or options this version does not have."""
        unknown = sorted(set(self.data) - self._used)
        if unknown:
            known = ", ".join(sorted(self._used))
            raise ConfigError(
                f"{self.source}: {self.key_path(unknown[0])}: unknown key (known keys here: {known})"
            )
