"""The labelled synthetic day and `cdrcap fraud-eval`: ground truth is injected, and a broken rule fails."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import pytest

from cdrcap.cli import main
from cdrcap.fraud_eval.data import SCENARIOS, synthesize_day
from cdrcap.fraud_eval.evaluation import evaluate_day
from pipeline.fraud.rules import load_rules, parse_rules

RULES_JSON = Path(__file__).parents[2] / "pipeline" / "fraud" / "rules.json"


def test_day_has_the_requested_size_and_every_scenario() -> None:
    day = synthesize_day(20_000, seed=3)

    assert len(day.cdrs) == pytest.approx(20_000, rel=0.05)
    assert Counter(label.scenario for label in day.labels) == dict.fromkeys(SCENARIOS, 3)
    assert [c.release_utc_ms for c in day.cdrs] == sorted(c.release_utc_ms for c in day.cdrs)


def test_same_seed_gives_the_same_day() -> None:
    first, second = synthesize_day(10_000, seed=5), synthesize_day(10_000, seed=5)

    assert first.labels == second.labels
    assert first.cdrs[::997] == second.cdrs[::997]


def test_default_rules_meet_the_targets_on_a_small_day() -> None:
    result = evaluate_day(synthesize_day(30_000, seed=11), load_rules())

    assert result.meets_targets, result.to_dict()


def test_a_too_strict_rule_misses_recall() -> None:
    document = json.loads(RULES_JSON.read_text())
    strict = copy.deepcopy(document)
    strict["rules"]["velocity"]["min_calls"] = 1000

    result = evaluate_day(synthesize_day(20_000, seed=2), parse_rules(strict))

    velocity = next(q for q in result.quality if q.rule_id == "velocity")
    assert velocity.recall == 0.0 and not result.meets_targets


def test_command_exits_1_when_a_rule_is_below_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(RULES_JSON.read_text())
    document["rules"]["sms_spam"]["min_distinct_recipients"] = 128
    document["rules"]["sms_spam"]["window_s"] = 60
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document))

    code = main(["fraud-eval", "--cdrs", "10000", "--rules", str(path), "--json"])

    output = json.loads(capsys.readouterr().out)
    assert code == 1
    assert not output["meets_targets"]


def test_command_rejects_a_day_too_small_to_measure(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fraud-eval", "--cdrs", "100"])

    assert code == 2
    assert "at least" in capsys.readouterr().err
