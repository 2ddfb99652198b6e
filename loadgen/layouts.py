"""Canonical CDRs written in a VoIP switch's own layout (Asterisk cdr_csv/cdr_custom, FreeSWITCH
mod_cdr_csv/mod_json_cdr), from the same mapping files the handler reads them with (pipeline/mappings).

The writer is the inverse of pipeline/mapping.py's compiled mapping: each mapped canonical field goes to its
column or JSON path, times in the layout's format and zone, the call duration into the answered or
unanswered column, the record type into the column a rule reads, URL-encoded where the layout encodes. So a
load in a switch's layout is, by construction, what the configured mapping reads back; what a layout cannot
carry (IMSI, cell, an SMS record type) is not sent in it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final
from urllib.parse import quote

from loadgen.errors import LoadConfigError
from pipeline.errors import ConfigError
from pipeline.mapping_spec import EPOCH_FORMATS, ISO_FORMATS, TIME_FIELDS, MappingSpec, load_mapping

_ISO: Final = "%Y-%m-%dT%H:%M:%S"
# A value the layout writes where a record-type rule must NOT match (the record keeps the constant type).
_NEUTRAL: Final = "default"
# The switches' own words for how a call ended (Asterisk's disposition, FreeSWITCH's hangup_cause, from their
# CDR documentation), by (answered, the canonical cause); the pipeline passes the cause through as written.
_CAUSE_WORDS: Final = {
    "asterisk": {
        (True, "normalRelease"): "ANSWERED",
        (False, "normalRelease"): "NO ANSWER",
        (True, "abnormalRelease"): "FAILED",
        (False, "abnormalRelease"): "FAILED",
    },
    "freeswitch": {
        (True, "normalRelease"): "NORMAL_CLEARING",
        (False, "normalRelease"): "NO_ANSWER",
        (True, "abnormalRelease"): "NORMAL_TEMPORARY_FAILURE",
        (False, "abnormalRelease"): "NORMAL_TEMPORARY_FAILURE",
    },
}


def _zone(offset: str) -> timezone:
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset.lstrip("+-").split(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


@dataclass(frozen=True)
class LayoutWriter:
    """Writes canonical wire CDRs (JSON v1 field names) as records of one mapped layout."""

    spec: MappingSpec

    @classmethod
    def named(cls, name: str) -> LayoutWriter:
        """A shipped mapping's name (pipeline/mappings/NAME.toml) or a path to a mapping file."""
        try:
            return cls(load_mapping(name))
        except ConfigError as error:
            raise LoadConfigError(f"layout {name!r}: {error}") from error

    @property
    def name(self) -> str:
        return self.spec.name

    def default_record_type(self) -> str | None:
        value = self.spec.constants.get("record_type")
        return str(value) if value is not None else None

    def carries(self, record_type: str) -> bool:
        """Whether a record of this type can be written so that the mapping reads the same type back."""
        if "record_type" in self.spec.fields:
            return True
        return record_type == self.default_record_type() or any(
            rule.record_type == record_type for rule in self.spec.record_type_rules
        )

    def write(self, cdr: Mapping[str, Any]) -> bytes:
        """One record in the layout; raises LoadConfigError for a record type the layout cannot carry."""
        record_type = str(cdr.get("record_type"))
        if not self.carries(record_type):
            raise LoadConfigError(
                f"layout {self.name} cannot carry a {record_type} record (its mapping reads "
                f"{self.default_record_type()} or a rule's type); send it in a native format"
            )
        spec = self.spec
        values: dict[str, Any] = {}
        for canonical, source in spec.fields.items():
            value = cdr.get(canonical)
            if canonical in TIME_FIELDS:
                value = self._time(value, str(cdr.get("utc_offset") or "+00:00"))
            elif canonical == "cause_for_term":
                value = self._cause(cdr)
            values[source] = "" if value is None else value
        self._duration(cdr, values)
        self._record_type(record_type, values)
        if spec.format == "csv":
            return self._csv(values)
        return self._json(values)

    def _time(self, local_iso: Any, utc_offset: str) -> Any:
        fmt = self.spec.time_format
        if not local_iso:
            return 0 if fmt in EPOCH_FORMATS else ""
        instant = datetime.strptime(str(local_iso), _ISO).replace(tzinfo=_zone(utc_offset))
        if fmt in EPOCH_FORMATS:
            return int(instant.timestamp()) * EPOCH_FORMATS[fmt]
        local = instant.astimezone(_zone(self.spec.zone)).replace(tzinfo=None)
        return local.strftime(_ISO if fmt == "iso" else fmt) if fmt in ISO_FORMATS else local.strftime(fmt)

    def _cause(self, cdr: Mapping[str, Any]) -> Any:
        words = _CAUSE_WORDS.get(self.name.split("_", 1)[0], {})
        cause = cdr.get("cause_for_term")
        return words.get((cdr.get("answer_time") is not None, str(cause)), cause)

    def _duration(self, cdr: Mapping[str, Any], values: dict[str, Any]) -> None:
        """3GPP duration is the chargeable time when answered, the holding time when not; the layouts keep
        both (billsec, duration): the column the mapping does not read gets its consistent value."""
        answered_col, unanswered_col = self.spec.duration_answered, self.spec.duration_unanswered
        duration = int(cdr.get("duration_s") or 0)
        answered = cdr.get("answer_time") is not None
        holding = _seconds_between(cdr.get("seizure_time"), cdr.get("release_time"))
        if answered_col:
            values[answered_col] = duration if answered else 0
        if unanswered_col and unanswered_col != answered_col:
            values[unanswered_col] = duration if not answered else max(holding, duration)

    def _record_type(self, record_type: str, values: dict[str, Any]) -> None:
        if "record_type" in self.spec.fields:
            return
        for rule in self.spec.record_type_rules:
            if rule.record_type == record_type:
                values[rule.source] = rule.operand if rule.op == "equals" else f"{rule.operand}-1"
                return
        for rule in self.spec.record_type_rules:
            values.setdefault(rule.source, _NEUTRAL)
            if values[rule.source] == "":
                values[rule.source] = _NEUTRAL

    def _csv(self, values: dict[str, Any]) -> bytes:
        out = io.StringIO()
        # Asterisk quotes every text value and leaves numbers bare, as QUOTE_NONNUMERIC does.
        csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator="").writerow(
            [values.get(column, "") for column in self.spec.columns]
        )
        return out.getvalue().encode()

    def _json(self, values: dict[str, Any]) -> bytes:
        document: dict[str, Any] = {}
        for path, value in values.items():
            text = str(value)
            _put(document, path.split("."), quote(text, safe="") if self.spec.url_decode else text)
        for key in self.spec.signature_keys:  # the keys a record of this layout is recognised by
            document.setdefault(key, {})
        return json.dumps(document, separators=(",", ":")).encode()


def _seconds_between(start: Any, end: Any) -> int:
    if not start or not end:
        return 0
    delta = datetime.strptime(str(end), _ISO) - datetime.strptime(str(start), _ISO)
    return max(int(delta.total_seconds()), 0)


def _put(document: dict[str, Any], parts: list[str], value: str) -> None:
    """Set a dotted path, creating objects, and lists where a part is an index (callflow.0.caller_profile)."""
    node: Any = document
    for part, following in zip(parts, [*parts[1:], None], strict=True):
        if following is None:
            node[int(part) if isinstance(node, list) else part] = value
            return
        child: Any = [] if following.isdigit() else {}
        if isinstance(node, list):
            index = int(part)
            while len(node) <= index:
                node.append([] if following.isdigit() else {})
            node = node[index]
        else:
            node = node.setdefault(part, child)
