"""The rules file: the packaged defaults load, and every kind of mistake names its key and the fix."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.constants import ENV_FRAUD_RULES_PATH
from pipeline.fraud.errors import RulesConfigError
from pipeline.fraud.rules import RULE_IDS, load_rules, parse_rules

DEFAULTS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "pipeline" / "fraud" / "rules.json").read_text()
)


def _with(path: str, value: Any) -> dict[str, Any]:
    document = copy.deepcopy(DEFAULTS)
    *parents, last = path.split(".")
    node = document
    for part in parents:
        node = node[part]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return document


def test_packaged_rules_load_with_every_rule_enabled() -> None:
    rules = load_rules()

    assert [rule.rule_id for rule in rules.rules] == list(RULE_IDS)
    assert all(rule.enabled for rule in rules.rules)
    assert rules.version


def test_path_from_environment_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(_with("version", "custom-7")))
    monkeypatch.setenv(ENV_FRAUD_RULES_PATH, str(path))

    assert load_rules().version == "custom-7"


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("rules.wangiri.min_calls", 0, "rules.wangiri.min_calls"),
        ("rules.wangiri.min_calls", "20", "rules.wangiri.min_calls"),
        ("rules.velocity.enabled", "yes", "rules.velocity.enabled"),
        ("rules.simbox.max_incoming_ratio", 1.5, "rules.simbox.max_incoming_ratio"),
        ("rules.irsf.hot_prefixes", ["882"], "rules.irsf.hot_prefixes"),
        ("rules.irsf.hot_prefixes", [], "rules.irsf.hot_prefixes"),
        ("rules.sms_spam.window_s", 90_000, "rules.sms_spam.window_s"),
        ("rules.sms_spam.min_distinct_recipients", 500, "rules.sms_spam.min_distinct_recipients"),
        ("rules.velocity.min_calls", KeyError, "rules.velocity.min_calls"),
        ("rules.velocity.min_calls_per_minute", 5, "rules.velocity.min_calls_per_minute"),
        ("rules.phishing", {}, "rules.phishing"),
        ("distinct_cap", KeyError, "distinct_cap"),
        ("alert_ttl_s", 60, "alert_ttl_s"),
        ("version", "", "version"),
    ],
)
def test_invalid_setting_is_named_in_the_error(path: str, value: Any, named: str) -> None:
    with pytest.raises(RulesConfigError) as raised:
        parse_rules(_with(path, value))

    assert f"`{named}`" in str(raised.value)


def test_distinct_threshold_above_cap_says_how_to_fix() -> None:
    with pytest.raises(RulesConfigError, match="raise distinct_cap"):
        parse_rules(_with("rules.wangiri.min_distinct_b", 129))


def test_a_rule_left_out_of_the_file_is_not_run() -> None:
    document = copy.deepcopy(DEFAULTS)
    del document["rules"]["irsf"]

    rules = parse_rules(document)

    assert "irsf" not in [rule.rule_id for rule in rules.rules]


def test_unreadable_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(RulesConfigError, match=r"missing\.json"):
        load_rules(tmp_path / "missing.json")


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text('{\n  "version": ,\n}')

    with pytest.raises(RulesConfigError, match="line 2"):
        load_rules(path)
