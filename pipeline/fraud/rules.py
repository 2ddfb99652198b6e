"""The versioned rules file: thresholds and windows per rule, validated once at cold start.

Every error names the offending key (`rules.wangiri.min_calls`) and what to write instead, so a bad deploy
fails on the first invocation with a message an operator can act on, not on the first fraudulent CDR.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from pipeline.constants import ENV_FRAUD_RULES_PATH
from pipeline.fraud.errors import RulesConfigError

RULE_IDS = ("wangiri", "irsf", "simbox", "velocity", "simultaneous", "sms_spam")
MAX_WINDOW_S = 86_400  # a day: longer windows make items (and their write cost) grow without bound


@dataclass(frozen=True, slots=True)
class WangiriRule:
    """Many very short / unanswered calls from one international A-number to many distinct B-numbers."""

    rule_id: ClassVar[str] = "wangiri"

    enabled: bool
    window_s: int
    max_ring_s: int  # a call answered for longer than this is a conversation, not a one-ring lure
    min_calls: int
    min_distinct_b: int


@dataclass(frozen=True, slots=True)
class IrsfRule:
    """Points per call to hot-list prefixes or premium-rate numbers, more for long calls and roamers."""

    rule_id: ClassVar[str] = "irsf"

    enabled: bool
    window_s: int
    hot_prefixes: tuple[str, ...]
    hot_points: int
    premium_points: int
    long_call_s: int
    long_call_points: int
    roaming_points: int
    min_calls: int
    min_score: int


@dataclass(frozen=True, slots=True)
class SimboxRule:
    """Many outgoing calls to many distinct B-numbers, almost nothing incoming, from very few cells."""

    rule_id: ClassVar[str] = "simbox"

    enabled: bool
    window_s: int
    min_call_s: int  # a SIM-box carries real conversations: only answered calls this long are counted
    min_calls: int
    min_distinct_b: int
    max_incoming_ratio: float  # (incoming calls + SMS in + SMS out) / outgoing calls
    max_distinct_cells: int
    min_sims_per_device: int  # distinct SIMs (A-numbers) on one IMEI in a window: a box rotating SIMs
    min_device_calls: int  # answered national calls from that IMEI in the window
    include_previous_window: bool  # judge this + the previous window: detection up to a window sooner


@dataclass(frozen=True, slots=True)
class VelocityRule:
    """Outgoing call attempts, or SMS sent, per A-number per window (a minute by default)."""

    rule_id: ClassVar[str] = "velocity"

    enabled: bool
    window_s: int
    min_calls: int
    min_sms: int  # flooding uses SMS as much as calls; people type slower than they dial
    include_previous_window: bool  # a burst split by a minute boundary is judged over both minutes


@dataclass(frozen=True, slots=True)
class SimultaneousRule:
    """Overlapping outgoing calls of one subscriber (cloned SIM, call selling)."""

    rule_id: ClassVar[str] = "simultaneous"

    enabled: bool
    window_s: int
    min_concurrent: int
    max_intervals: int  # cap on the call intervals kept per (subscriber, window)


@dataclass(frozen=True, slots=True)
class SmsSpamRule:
    """Distinct SMS recipients per subscriber per window."""

    rule_id: ClassVar[str] = "sms_spam"

    enabled: bool
    window_s: int
    min_distinct_recipients: int


RuleConfig = WangiriRule | IrsfRule | SimboxRule | VelocityRule | SimultaneousRule | SmsSpamRule
_RULE_TYPES: dict[str, type[Any]] = {
    "wangiri": WangiriRule,
    "irsf": IrsfRule,
    "simbox": SimboxRule,
    "velocity": VelocityRule,
    "simultaneous": SimultaneousRule,
    "sms_spam": SmsSpamRule,
}
_DISTINCT_THRESHOLDS = {
    "wangiri": "min_distinct_b",
    "simbox": "min_distinct_b",
    "sms_spam": "min_distinct_recipients",
}


@dataclass(frozen=True, slots=True)
class RuleSet:
    version: str
    distinct_cap: int  # exact distinct sets stop growing here; every distinct threshold must be <= it
    alert_ttl_s: int  # how long alert markers (the at-most-once guard) and window items are kept
    rules: tuple[RuleConfig, ...]

    def rule(self, rule_id: str) -> RuleConfig:
        for config in self.rules:
            if config.rule_id == rule_id:
                return config
        raise KeyError(rule_id)


def _bad(key: str, problem: str, fix: str) -> RulesConfigError:
    return RulesConfigError(f"fraud rules: `{key}` {problem}; {fix}")


def _field_value(key: str, annotation: str, value: Any) -> Any:
    if annotation == "bool":
        if not isinstance(value, bool):
            raise _bad(key, f"is {value!r}", "write true or false")
        return value
    if annotation == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _bad(key, f"is {value!r}", "write a whole number >= 1")
        return value
    if annotation == "float":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise _bad(key, f"is {value!r}", "write a number between 0 and 1")
        return float(value)
    if annotation == "tuple[str, ...]":
        if not isinstance(value, list) or not value:
            raise _bad(key, f"is {value!r}", 'write a non-empty list of E.164 prefixes like ["+882"]')
        for prefix in value:
            if not isinstance(prefix, str) or not prefix.startswith("+") or not prefix[1:].isdigit():
                raise _bad(key, f"contains {prefix!r}", 'write E.164 prefixes: "+" then digits, e.g. "+882"')
        return tuple(value)
    raise AssertionError(annotation)  # a field type this loader does not know: a programming error


def _parse_rule(rule_id: str, raw: Any) -> RuleConfig:
    key = f"rules.{rule_id}"
    if not isinstance(raw, dict):
        raise _bad(key, f"is {type(raw).__name__}", "write an object with the rule's settings")
    rule_type = _RULE_TYPES[rule_id]
    names = [f.name for f in fields(rule_type)]
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise _bad(f"{key}.{unknown[0]}", "is not a setting of this rule", f"use only {', '.join(names)}")
    values: dict[str, Any] = {}
    for field in fields(rule_type):
        if field.name not in raw:
            raise _bad(f"{key}.{field.name}", "is missing", "add it (see pipeline/fraud/rules.json)")
        values[field.name] = _field_value(f"{key}.{field.name}", str(field.type), raw[field.name])
    if values["window_s"] > MAX_WINDOW_S:
        raise _bad(f"{key}.window_s", f"is {values['window_s']}", f"use at most {MAX_WINDOW_S} seconds")
    config: RuleConfig = rule_type(**values)
    return config


def parse_rules(document: Any) -> RuleSet:
    if not isinstance(document, dict):
        raise _bad("(top level)", "is not an object", "write a JSON object with version, distinct_cap, rules")
    for key in ("version", "distinct_cap", "alert_ttl_s", "rules"):
        if key not in document:
            raise _bad(key, "is missing", "add it (see pipeline/fraud/rules.json)")
    version = document["version"]
    if not isinstance(version, str) or not version:
        raise _bad("version", f"is {version!r}", 'write a non-empty string such as "2026-11-26.1"')
    distinct_cap = _field_value("distinct_cap", "int", document["distinct_cap"])
    alert_ttl_s = _field_value("alert_ttl_s", "int", document["alert_ttl_s"])
    raw_rules = document["rules"]
    if not isinstance(raw_rules, dict):
        raise _bad("rules", "is not an object", "write an object keyed by rule id")
    unknown = sorted(set(raw_rules) - set(RULE_IDS))
    if unknown:
        raise _bad(f"rules.{unknown[0]}", "is not a known rule", f"use rule ids from {', '.join(RULE_IDS)}")
    rules = tuple(_parse_rule(rule_id, raw_rules[rule_id]) for rule_id in RULE_IDS if rule_id in raw_rules)
    by_id = {rule.rule_id: rule for rule in rules}
    for rule_id, threshold_name in _DISTINCT_THRESHOLDS.items():
        rule = by_id.get(rule_id)
        threshold = getattr(rule, threshold_name, 0)
        if threshold > distinct_cap:
            raise _bad(
                f"rules.{rule_id}.{threshold_name}",
                f"is {threshold}, above distinct_cap={distinct_cap}",
                "lower it or raise distinct_cap (distinct counts are exact only up to the cap)",
            )
    longest_window_s = max((r.window_s for r in rules), default=0)
    if alert_ttl_s < 2 * longest_window_s:
        raise _bad(
            "alert_ttl_s", f"is {alert_ttl_s}", f"use at least {2 * longest_window_s} (2x the longest window)"
        )
    return RuleSet(version=version, distinct_cap=distinct_cap, alert_ttl_s=alert_ttl_s, rules=rules)


def load_rules(path: Path | str | None = None) -> RuleSet:
    """The rules from `path`, else from $CDRCAP_FRAUD_RULES_PATH, else the packaged rules.json."""
    chosen = path if path is not None else os.environ.get(ENV_FRAUD_RULES_PATH) or None
    try:
        if chosen is None:
            text = resources.files("pipeline.fraud").joinpath("rules.json").read_text(encoding="utf-8")
            origin = "pipeline/fraud/rules.json"
        else:
            text = Path(chosen).read_text(encoding="utf-8")
            origin = str(chosen)
    except OSError as error:
        raise RulesConfigError(
            f"fraud rules file {chosen} cannot be read ({error.strerror}); "
            f"fix the path in {ENV_FRAUD_RULES_PATH} or the argument"
        ) from error
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise RulesConfigError(
            f"fraud rules file {origin} is not valid JSON (line {error.lineno}: {error.msg})"
        ) from error
    return parse_rules(document)
