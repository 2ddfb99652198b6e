"""Compiled input mappings: one record of a configured non-native layout -> the canonical wire fields.

A MappingSpec (pipeline/mapping_spec.py) is compiled once into a resolver (every source value of a record
in one call: one `itemgetter` over a CSV layout's cells, each parent object of a JSON layout's paths walked
once) and plain tuples of (field, accessor into the resolved values). The result goes through the same
validation as JSON (`wire_json.canonical_fields`' Struct, else `validate.to_canonical`), with the mapping's
name as its source format.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any, Final
from urllib.parse import unquote

from pipeline.decode import INT64_MAX, INT64_MIN, Fields, Rejected
from pipeline.errors import ConfigError
from pipeline.mapping_spec import EPOCH_FORMATS, ISO_FORMATS, TIME_FIELDS, MappingSpec, load_mapping
from pipeline.schema import ReasonCode

Getter = Callable[[Any], Any]  # the record (or its resolved values) -> the raw value or None
MAPPED_SCHEMA_VERSION: Final = 1  # the wire fields a mapping fills are JSON v1's
_INT_FIELDS: Final = frozenset({"duration_s", "lac", "cell_id", "sequence", "bytes_up", "bytes_down"})
_TIME_CACHE_MAX: Final = 16_384


def _path_getter(path: str) -> Getter:
    """Dotted JSON path; a numeric part indexes a list (and, leniently, means the object itself when
    the layout wrote one object where other versions write a list, as FreeSWITCH's callflow does)."""
    parts: tuple[str | int, ...] = tuple(int(p) if p.isdigit() else p for p in path.split("."))
    if len(parts) == 1:
        key = parts[0]
        return lambda doc: doc.get(key)

    def get(doc: Any) -> Any:
        for part in parts:
            if type(part) is int:
                if type(doc) is list:
                    doc = doc[part] if part < len(doc) else None
                elif type(doc) is not dict:
                    return None
            elif type(doc) is dict:
                doc = doc.get(part)
            else:
                return None
        return doc

    return get


Resolver = Callable[[Any], Sequence[Any]]  # the record -> the values of the mapping's sources, in order


def _resolver(spec: MappingSpec, sources: Sequence[str]) -> Resolver:
    """All the sources' values of a record in one call (the accessors then index the result): a CSV
    layout's columns by one C-level `itemgetter`; a JSON layout's paths with each parent object (e.g.
    FreeSWITCH's `variables`, `callflow.0.caller_profile`) walked once, not once per field."""
    if spec.format == "json":
        resolve = _json_resolver(sources)
    else:
        indices = [spec.columns.index(source) for source in sources]
        if len(indices) == 1:
            index = indices[0]
            resolve = lambda cells: (cells[index],)  # noqa: E731 - itemgetter of one index is no tuple
        else:
            resolve = itemgetter(*indices)
    if not spec.url_decode:
        return resolve
    return lambda record: [
        unquote(value) if type(value) is str and "%" in value else value for value in resolve(record)
    ]


def _json_resolver(sources: Sequence[str]) -> Resolver:
    # Walking a path's parent, then taking its last key from the object found (None if not an object),
    # is what _path_getter does for the whole path; a path ending in an index keeps its own getter.
    walks: list[Getter] = []
    parent_at: dict[str, int] = {}
    plan: list[tuple[int, str, Getter | None]] = []
    for source in sources:
        parent, _, key = source.rpartition(".")
        if key.isdigit():
            plan.append((-1, key, _path_getter(source)))
            continue
        if parent not in parent_at:
            parent_at[parent] = len(walks)
            walks.append(_path_getter(parent) if parent else _itself)
        plan.append((parent_at[parent], key, None))

    def resolve(doc: Any) -> list[Any]:
        scopes = [walk(doc) for walk in walks]
        return [
            get(doc) if get is not None else scope.get(key) if type(scope := scopes[at]) is dict else None
            for at, key, get in plan
        ]

    return resolve


def _itself(doc: Any) -> Any:
    return doc


def _time_converter(spec: MappingSpec) -> Callable[[Any, str], tuple[str | None, str]]:
    """(raw value, field) -> (ISO local time or None, its UTC offset). An empty value or epoch 0 = absent."""
    zone = spec.zone
    if spec.time_format in ISO_FORMATS:
        return lambda raw, name: (raw if raw else None, zone)
    if spec.time_format in EPOCH_FORMATS:
        return _epoch_converter(spec)
    return _pattern_converter(spec)


def _epoch_converter(spec: MappingSpec) -> Callable[[Any, str], tuple[str | None, str]]:
    fmt = spec.time_format
    per_s = EPOCH_FORMATS[fmt]
    # A batch's ~1,500 times share a few hundred seconds: one dict lookup instead of int + gmtime +
    # strftime (~1 µs). Converted texts only (valid, in range); bounded like validate's caches.
    converted: dict[str, tuple[str | None, str]] = {}

    def epoch(raw: Any, name: str) -> tuple[str | None, str]:
        if type(raw) is str:
            hit = converted.get(raw)
            if hit is not None:
                return hit
            if raw and raw != "0":
                if len(converted) >= _TIME_CACHE_MAX:
                    converted.clear()
                hit = converted[raw] = converted_epoch(raw, name)
                return hit
        if raw is None or raw == "" or raw == 0 or raw == "0":
            return None, "+00:00"
        return converted_epoch(raw, name)

    def converted_epoch(raw: Any, name: str) -> tuple[str | None, str]:
        try:
            seconds = int(raw) // per_s
        except (TypeError, ValueError):
            raise Rejected(ReasonCode.INVALID_TIMESTAMP, f"{spec.name}: {name} is not {fmt}") from None
        if not 0 < seconds < 253_402_300_800:  # before year 10000
            raise Rejected(ReasonCode.INVALID_TIMESTAMP, f"{spec.name}: {name} is out of range")
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)), "+00:00"

    return epoch


def _pattern_converter(spec: MappingSpec) -> Callable[[Any, str], tuple[str | None, str]]:
    fmt, zone = spec.time_format, spec.zone
    parsed: dict[str, tuple[str | None, str]] = {}  # strptime is ~5 µs: valid texts seen lately

    def pattern(raw: Any, name: str) -> tuple[str | None, str]:
        if type(raw) is str:
            hit = parsed.get(raw)
            if hit is not None:
                return hit
        if not raw:
            return None, zone
        try:
            hit = datetime.strptime(str(raw), fmt).strftime("%Y-%m-%dT%H:%M:%S"), zone
        except ValueError:
            raise Rejected(ReasonCode.INVALID_TIMESTAMP, f"{spec.name}: {name} is not {fmt!r}") from None
        if type(raw) is str:
            if len(parsed) >= _TIME_CACHE_MAX:
                parsed.clear()
            parsed[raw] = hit
        return hit

    return pattern


def _as_int(value: Any, name: str, mapping: str) -> int | None:
    if value is None or value == "":
        return None
    if type(value) is int:
        number = value
    else:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise Rejected(ReasonCode.BAD_TYPE, f"{mapping}: {name} must be an integer") from None
    if not INT64_MIN <= number <= INT64_MAX:  # as native JSON and CSV: no store or encoder takes it whole
        raise Rejected(ReasonCode.BAD_TYPE, f"{mapping}: {name} {str(value)[:40]} is beyond 64 bits")
    return number


@dataclass(frozen=True, slots=True)
class CompiledMapping:
    """One mapping, ready for the hot path."""

    spec: MappingSpec
    resolve: Resolver  # the record -> its sources' values; every Getter below indexes them
    text_fields: tuple[tuple[str, Getter], ...]  # copied as they are ("" -> None)
    int_fields: tuple[tuple[str, Getter], ...]
    time_fields: tuple[tuple[str, Getter], ...]
    convert_time: Callable[[Any, str], tuple[str | None, str]]
    duration: tuple[Getter | None, Getter | None]  # (answered, unanswered)
    rules: tuple[tuple[Getter, str, str, str], ...]  # (getter, op, operand, record type)
    constants: tuple[tuple[str, Any], ...]
    signature_keys: frozenset[str]  # a JSON layout's keys (spec.signature_keys), empty for CSV

    @property
    def name(self) -> str:
        return self.spec.name

    def decode(self, record: Any) -> Fields:
        """Wire fields of one record (a CSV cell list or a JSON object); raises Rejected."""
        name = self.spec.name
        record = self.resolve(record)
        fields: Fields = {"schema_version": MAPPED_SCHEMA_VERSION}
        for field, get in self.text_fields:
            value = get(record)
            fields[field] = None if value == "" else value
        for field, get in self.int_fields:
            fields[field] = _as_int(get(record), field, name)
        convert = self.convert_time
        offset = self.spec.zone
        for field, get in self.time_fields:
            fields[field], offset = convert(get(record), field)
        fields["utc_offset"] = offset
        answered, unanswered = self.duration
        chosen = answered if fields.get("answer_time") is not None else unanswered
        if chosen is not None:
            fields["duration_s"] = _as_int(chosen(record), "duration_s", name)
        for get, op, operand, record_type in self.rules:
            value = get(record)
            if type(value) is str and (value == operand if op == "equals" else value.startswith(operand)):
                fields["record_type"] = record_type
                break
        for field, value in self.constants:
            fields.setdefault(field, value)
        return fields


def compile_mapping(spec: MappingSpec) -> CompiledMapping:
    sources: dict[str, Getter] = {}  # each distinct source once, in first use order

    def getter(source: str) -> Getter:
        return sources.setdefault(source, itemgetter(len(sources)))

    text: list[tuple[str, Getter]] = []
    ints: list[tuple[str, Getter]] = []
    times: list[tuple[str, Getter]] = []
    for field, source in spec.fields.items():
        get = getter(source)
        (times if field in TIME_FIELDS else ints if field in _INT_FIELDS else text).append((field, get))
    duration = (
        getter(spec.duration_answered) if spec.duration_answered else None,
        getter(spec.duration_unanswered) if spec.duration_unanswered else None,
    )
    rules = tuple((getter(r.source), r.op, r.operand, r.record_type) for r in spec.record_type_rules)
    return CompiledMapping(
        spec=spec,
        resolve=_resolver(spec, list(sources)),
        text_fields=tuple(text),
        int_fields=tuple(ints),
        time_fields=tuple(times),
        convert_time=_time_converter(spec),
        duration=duration,
        rules=rules,
        constants=tuple(spec.constants.items()),
        signature_keys=frozenset(spec.signature_keys),
    )


@dataclass(frozen=True, slots=True)
class MappingSet:
    """The mappings configured for a stream; a record is matched to one by its layout's signature."""

    mappings: tuple[CompiledMapping, ...]

    def decode_csv(self, cells: Sequence[str]) -> tuple[str, Fields]:
        count = len(cells)
        for mapping in self.mappings:
            if mapping.spec.signature_columns == count:
                columns = mapping.spec.columns
                # A file shipped line by line (a log agent tailing it) may start with its header line.
                if cells[0] == columns[0] and tuple(cells) == columns:
                    raise Rejected(ReasonCode.HEADER_LINE, f"the header line of {mapping.name}, not a CDR")
                return mapping.name, mapping.decode(cells)
        csv_layouts = [m.spec for m in self.mappings if m.spec.format == "csv"]
        closest = min(csv_layouts, key=lambda s: abs((s.signature_columns or 0) - count), default=None)
        resembles = f"; closest: {closest.name} ({closest.signature_columns} columns)" if closest else ""
        raise Rejected(
            ReasonCode.UNMAPPED_LAYOUT, f"CSV with {count} columns matches no input mapping{resembles}"
        )

    def decode_json(self, doc: dict[str, Any]) -> tuple[str, Fields]:
        present_keys = doc.keys()
        for mapping in self.mappings:  # the first whose signature keys are all there (a C-level subset test)
            if mapping.signature_keys and mapping.signature_keys <= present_keys:
                return mapping.name, mapping.decode(doc)
        best: tuple[int, str] = (-1, "")
        for mapping in self.mappings:
            keys = mapping.spec.signature_keys
            present = sum(1 for key in keys if key in doc)
            if keys and present == len(keys):
                return mapping.name, mapping.decode(doc)
            if keys and present > best[0]:
                best = (present, f"{mapping.name} ({present} of {len(keys)} keys)")
        resembles = f"; closest: {best[1]}" if best[0] > 0 else ""
        raise Rejected(
            ReasonCode.UNMAPPED_LAYOUT, f"JSON without schema_version matches no input mapping{resembles}"
        )


def load_mapping_set(raw: str) -> MappingSet | None:
    """`CDRCAP_INPUT_MAPPINGS` (comma-separated names or paths) -> the compiled set; None when empty."""
    names = [part.strip() for part in raw.split(",") if part.strip()]
    if not names:
        return None
    compiled = [compile_mapping(load_mapping(name)) for name in names]
    seen: dict[Any, str] = {}
    for mapping in compiled:
        spec = mapping.spec
        signature = spec.signature_columns if spec.format == "csv" else frozenset(spec.signature_keys)
        if signature in seen:
            raise ConfigError(
                f"CDRCAP_INPUT_MAPPINGS: {spec.name} and {seen[signature]} have the same signature, so a "
                "record could not be told apart: configure one of them."
            )
        seen[signature] = spec.name
    return MappingSet(tuple(compiled))
