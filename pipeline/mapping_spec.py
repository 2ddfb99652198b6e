"""Input mapping files (TOML): how a VoIP switch's CDR layout (CSV columns or JSON paths) maps to the
canonical wire fields. Read and checked once, at cold start; a bad file is a ConfigError naming the file,
the line and the key. pipeline/mapping.py compiles a checked spec into the per-record decoder.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from pipeline.errors import ConfigError
from pipeline.normalize import parse_utc_offset_min
from pipeline.schema import JSON_FIELDS_V1, RecordType

SHIPPED_DIR: Final = Path(__file__).parent / "mappings"
FORMATS: Final = ("csv", "json")
EPOCH_FORMATS: Final = {"epoch_s": 1, "epoch_ms": 1_000, "epoch_us": 1_000_000}
ISO_FORMATS: Final = ("iso", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")  # the validator parses these itself
# The canonical fields a mapping may fill: the JSON v1 wire fields (schema_version is the mapping's own).
CANONICAL_FIELDS: Final = frozenset(JSON_FIELDS_V1) - {"schema_version"}
TIME_FIELDS: Final = ("seizure_time", "answer_time", "release_time")
_SECTIONS: Final = frozenset(
    {"layout", "signature", "time", "fields", "duration", "constants", "record_type"}
)
_RULE_OPS: Final = ("equals", "prefix")
_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,62}")


@dataclass(frozen=True, slots=True)
class RecordTypeRule:
    source: str  # column name or JSON path
    op: str  # "equals" | "prefix"
    operand: str
    record_type: str


@dataclass(frozen=True, slots=True)
class MappingSpec:
    """A checked mapping file. `fields` maps canonical field -> column name (csv) or dotted path (json)."""

    name: str
    path: str
    format: str
    columns: tuple[str, ...]  # csv: the column names in order; json: ()
    signature_columns: int | None  # csv: the column count a record of this layout has
    signature_keys: tuple[str, ...]  # json: top-level keys a record of this layout has
    time_format: str
    zone: str  # "+HH:MM": the switch's offset for times that carry none
    url_decode: bool  # values are URL-encoded (FreeSWITCH mod_json_cdr "encode-values")
    fields: dict[str, str]
    duration_answered: str | None
    duration_unanswered: str | None
    constants: dict[str, str | int | bool]
    record_type_rules: tuple[RecordTypeRule, ...]


def _line_of(text: str, key: str) -> int:
    """The first line that assigns or opens `key` (tomllib reports only syntax errors with a line)."""
    pattern = re.compile(rf"^\s*(\[+\s*{re.escape(key)}\s*\]+|\"?{re.escape(key)}\"?\s*=)")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return 1


class _Checker:
    def __init__(self, path: str, text: str) -> None:
        self.path, self.text = path, text

    def fail(self, key: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(f"input mapping {self.path}, line {_line_of(self.text, key)}: {problem}: {fix}.")

    def table(self, doc: dict[str, Any], name: str, *, required: bool = True) -> dict[str, Any]:
        value = doc.get(name)
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise self.fail(name, f"[{name}] is missing or not a table", f"add a [{name}] section")
        return value

    def string(self, table: dict[str, Any], key: str, what: str) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"{key} must be a non-empty string", f"set {key} to {what}")
        return value


def _check_time_format(check: _Checker, time_format: str) -> None:
    if time_format in ISO_FORMATS or time_format in EPOCH_FORMATS:
        return
    sample = datetime(2026, 11, 18, 8, 9, 10)
    try:
        parsed = datetime.strptime(sample.strftime(time_format), time_format)
    except ValueError:
        parsed = None
    if parsed is None or parsed.replace(tzinfo=None) != sample:
        raise check.fail(
            "format",
            f"time format {time_format!r} does not read back a full date and time",
            "use iso, epoch_s, epoch_ms, epoch_us or a strptime pattern with %Y %m %d %H %M %S",
        )


def _check_fields(check: _Checker, fields: dict[str, Any], columns: tuple[str, ...], fmt: str) -> None:
    for canonical, source in fields.items():
        if canonical not in CANONICAL_FIELDS:
            raise check.fail(
                canonical,
                f"{canonical!r} is not a canonical field",
                f"use one of {', '.join(sorted(CANONICAL_FIELDS))}",
            )
        if not isinstance(source, str) or not source:
            raise check.fail(
                canonical, f"{canonical} must name a column or JSON path", "write it as a string"
            )
        if fmt == "csv" and source not in columns:
            raise check.fail(canonical, f"column {source!r} is not in columns", "add it or fix the name")


def _record_type_rules(
    check: _Checker, raw: Any, columns: tuple[str, ...], fmt: str
) -> tuple[RecordTypeRule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise check.fail("record_type", "[[record_type]] must be an array of tables", "write [[record_type]]")
    rules = []
    for rule in raw:
        ops = [op for op in _RULE_OPS if op in rule]
        source = rule.get("source")
        record_type = rule.get("value")
        if len(ops) != 1 or not isinstance(source, str) or record_type not in RecordType.__members__.values():
            raise check.fail(
                "record_type",
                f"rule {rule!r} is incomplete",
                "give source, exactly one of equals/prefix, and value (MOC, MTC, SMS_MO, ...)",
            )
        if fmt == "csv" and source not in columns:
            raise check.fail("source", f"rule column {source!r} is not in columns", "add it or fix the name")
        rules.append(RecordTypeRule(source, ops[0], str(rule[ops[0]]), str(record_type)))
    return tuple(rules)


def parse_mapping(text: str, path: str) -> MappingSpec:
    """Check one mapping file's text; raise ConfigError naming `path`, the line and the key."""
    check = _Checker(path, text)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"input mapping {path}: {exc}: fix the TOML syntax.") from None
    for section in doc:
        if section not in _SECTIONS:
            raise check.fail(section, f"unknown section [{section}]", f"use {', '.join(sorted(_SECTIONS))}")
    layout = check.table(doc, "layout")
    name, fmt, columns = _layout(check, layout)
    signature_columns, keys = _signature(check, check.table(doc, "signature"), fmt, columns)
    time_format, zone = _time_spec(check, check.table(doc, "time"))
    fields = check.table(doc, "fields")
    _check_fields(check, fields, columns, fmt)
    duration = check.table(doc, "duration", required=False)
    for key, source in duration.items():
        if key not in ("answered", "unanswered"):
            raise check.fail(key, f"[duration] key {key!r} is unknown", "use answered and unanswered")
        _check_fields(check, {"duration_s": source}, columns, fmt)
    constants = check.table(doc, "constants", required=False)
    _check_sources(check, fields, constants, duration)
    sign = "+" if zone >= 0 else "-"
    return MappingSpec(
        name=name,
        path=path,
        format=fmt,
        columns=columns,
        signature_columns=signature_columns,
        signature_keys=keys,
        time_format=time_format,
        zone=f"{sign}{abs(zone) // 60:02d}:{abs(zone) % 60:02d}",
        url_decode=bool(layout.get("url_decode", False)),
        fields=dict(fields),
        duration_answered=duration.get("answered"),
        duration_unanswered=duration.get("unanswered"),
        constants=dict(constants),
        record_type_rules=_record_type_rules(check, doc.get("record_type"), columns, fmt),
    )


def _layout(check: _Checker, layout: dict[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    """[layout]: the name, the format and (CSV) the columns in order."""
    name = check.string(layout, "name", "a lowercase identifier such as asterisk_cdr_csv")
    if not _NAME.fullmatch(name):
        raise check.fail("name", f"name {name!r} is not a lowercase identifier", "use a-z, 0-9 and _")
    fmt = check.string(layout, "format", "csv or json")
    if fmt not in FORMATS:
        raise check.fail("format", f"format {fmt!r} is not csv or json", 'set format = "csv" or "json"')
    if fmt != "csv":
        return name, fmt, ()
    raw_columns = layout.get("columns")
    if (
        not isinstance(raw_columns, list)
        or not raw_columns
        or not all(isinstance(c, str) for c in raw_columns)
    ):
        raise check.fail("columns", "columns must be a list of column names", "list the CSV columns in order")
    columns = tuple(raw_columns)
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise check.fail("columns", f"duplicate column {duplicates[0]!r}", "give every column its own name")
    return name, fmt, columns


def _signature(
    check: _Checker, signature: dict[str, Any], fmt: str, columns: tuple[str, ...]
) -> tuple[Any, tuple[str, ...]]:
    """[signature]: how a record is recognised (CSV column count, or JSON top-level keys)."""
    signature_columns = signature.get("columns") if fmt == "csv" else None
    if fmt == "csv" and signature_columns != len(columns):
        raise check.fail(
            "columns", f"signature columns {signature_columns!r} != {len(columns)} columns", "make them agree"
        )
    keys = tuple(signature.get("keys", ())) if fmt == "json" else ()
    if fmt == "json" and (not keys or not all(isinstance(k, str) for k in keys)):
        raise check.fail("keys", "a json signature needs keys", "list the top-level keys every record has")
    return signature_columns, keys


def _time_spec(check: _Checker, time: dict[str, Any]) -> tuple[str, int]:
    """[time]: the timestamp format and the layout's UTC offset in minutes."""
    time_format = check.string(time, "format", "iso, epoch_s or a strptime pattern")
    _check_time_format(check, time_format)
    zone_text = str(time.get("zone", "+00:00"))
    zone = parse_utc_offset_min(zone_text)
    if zone is None:
        raise check.fail("zone", f"zone {zone_text!r} is not a UTC offset", "write it as +HH:MM or -HH:MM")
    return time_format, zone


def _check_sources(
    check: _Checker, fields: dict[str, Any], constants: dict[str, Any], duration: dict[str, Any]
) -> None:
    """Every constant names a canonical field not also mapped, and every required field has a source."""
    for canonical in constants:
        if canonical not in CANONICAL_FIELDS:
            raise check.fail(canonical, f"{canonical!r} is not a canonical field", "fix the constant's name")
        if canonical in fields:
            raise check.fail(canonical, f"{canonical} is both a field and a constant", "keep one")
    for needed in ("calling_number", "seizure_time", "release_time", "call_reference"):
        if needed not in fields and needed not in constants:
            raise check.fail("fields", f"no source for {needed}", f"map {needed} to a column or path")
    if not ("duration_s" in fields or "duration_s" in constants or duration):
        raise check.fail("fields", "no source for duration_s", "map duration_s or add a [duration] table")


def shipped_mapping_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in SHIPPED_DIR.glob("*.toml")))


def load_mapping(name_or_path: str) -> MappingSpec:
    """A shipped mapping by name (pipeline/mappings/<name>.toml) or a TOML file by path."""
    is_path = "/" in name_or_path or name_or_path.endswith(".toml")
    path = Path(name_or_path) if is_path else SHIPPED_DIR / f"{name_or_path}.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        if not is_path:
            raise ConfigError(
                f"input mapping {name_or_path!r} is not shipped: use one of "
                f"{', '.join(shipped_mapping_names())} or a path to a .toml file."
            ) from None
        raise ConfigError(f"input mapping {path}: cannot read it ({exc.strerror}): fix the path.") from None
    return parse_mapping(text, str(path if is_path else f"{name_or_path} (shipped)"))
