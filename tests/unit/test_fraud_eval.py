"""The fraud evaluation's day and `cdrcap fraud-eval`: every rule's scenario is injected and labelled, the
canonical day is what the validator accepted, and a broken rule fails the command."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from cdrcap.cli import main
from cdrcap.fraud_loadgen_eval import canonical_day, evaluate_loadgen_day
from loadgen.options import scaled
from loadgen.synth import DefectRates, FraudRates, SynthConfig
from pipeline.fraud.rules import RULE_IDS, parse_rules

RULES_JSON = Path(__file__).parents[2] / "pipeline" / "fraud" / "rules.json"
NO_DEFECTS = DefectRates(**dict.fromkeys(DefectRates().as_dict(), 0.0))
DENSE = SynthConfig(subscribers=20_000, fraud=scaled(FraudRates(), 10), defects=NO_DEFECTS)


def test_the_canonical_day_has_every_rules_scenario_in_arrival_order() -> None:
    day = canonical_day(20_000, seed=3, config=DENSE)

    assert len(day.cdrs) == 20_000  # no defects: the validator accepted every record
    assert {label.scenario for label in day.labels} == set(RULE_IDS)
    assert {label.cdr_id for label in day.labels} <= {cdr.cdr_id for cdr in day.cdrs}
    assert bool(np.all(np.diff([cdr.release_utc_ms for cdr in day.cdrs]) >= 0))
    assert day.home_region == DENSE.home_region


def test_same_seed_gives_the_same_canonical_day() -> None:
    first, second = canonical_day(5_000, seed=5, config=DENSE), canonical_day(5_000, seed=5, config=DENSE)

    assert first.labels == second.labels
    assert first.cdrs[::97] == second.cdrs[::97]


def test_a_too_strict_rule_misses_recall() -> None:
    document = json.loads(RULES_JSON.read_text())
    strict = copy.deepcopy(document)
    strict["rules"]["velocity"]["min_calls"] = 1000
    strict["rules"]["velocity"]["min_sms"] = 1000

    result = evaluate_loadgen_day(parse_rules(strict), cdrs=20_000, seed=2, config=DENSE)

    velocity = next(q for q in result.quality if q.rule_id == "velocity")
    assert velocity.instances > 0 and velocity.recall == 0.0 and not velocity.meets_targets


def test_command_exits_1_when_a_rule_is_below_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A spam threshold every texting subscriber reaches: its alerts fall on background traffic
    document = json.loads(RULES_JSON.read_text())
    document["rules"]["sms_spam"]["min_distinct_recipients"] = 1
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document))

    code = main(["fraud-eval", "--cdrs", "10000", "--rules", str(path), "--json"])

    output = json.loads(capsys.readouterr().out)
    spam = next(rule for rule in output["rules"] if rule["rule_id"] == "sms_spam")
    assert code == 1
    assert not output["meets_targets"] and spam["precision"] < 0.9


def test_command_rejects_a_day_too_small_to_measure(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fraud-eval", "--cdrs", "100"])

    assert code == 2
    assert "at least" in capsys.readouterr().err
