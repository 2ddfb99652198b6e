import dataclasses
import json
import re

import numpy as np
import phonenumbers
import pytest

from loadgen.synth import CdrSynthesizer, DefectRates, FraudRates, SynthConfig
from loadgen.synth.config import RECORD_TYPES
from loadgen.synth.numbering import DESTINATIONS, PLANS, destination_numbers, random_nsn
from loadgen.synth.population import Population
from pipeline.schema import CSV_COLUMNS, JSON_FIELDS_V1, JSON_FIELDS_V2

AT = 1_795_000_000.0
CLEAN = SynthConfig(
    subscribers=50_000,
    fraud=FraudRates.none(),
    defects=DefectRates(**dict.fromkeys(DefectRates().as_dict(), 0.0)),
)


@pytest.fixture(scope="module")
def clean_records() -> list[dict]:
    synth = CdrSynthesizer(CLEAN, seed=7)
    payloads = synth.batch(40_000, at_epoch_s=AT)
    return [json.loads(p) for p in payloads if p.startswith(b"{")]


def test_same_seed_same_payloads_keys_and_labels():
    # Given two synthesizers with one seed, When each makes a batch at the same time
    first = CdrSynthesizer(SynthConfig(subscribers=10_000), seed=3).batch_with_keys(5_000, at_epoch_s=AT)
    second = CdrSynthesizer(SynthConfig(subscribers=10_000), seed=3).batch_with_keys(5_000, at_epoch_s=AT)
    # Then payloads, keys and labels are identical
    assert first == second


def test_different_seeds_differ():
    first = CdrSynthesizer(SynthConfig(subscribers=10_000), seed=3).batch(1_000, at_epoch_s=AT)
    second = CdrSynthesizer(SynthConfig(subscribers=10_000), seed=4).batch(1_000, at_epoch_s=AT)
    assert first != second


def test_json_payloads_carry_exactly_the_schema_fields_in_order(clean_records):
    for record in clean_records[:2_000]:
        expected = JSON_FIELDS_V2 if record["schema_version"] == 2 else JSON_FIELDS_V1
        assert tuple(record) == expected


def test_csv_payloads_have_the_schema_version_first_and_its_column_count():
    payloads = CdrSynthesizer(CLEAN, seed=7).batch(5_000, at_epoch_s=AT)
    rows = [p.decode().split(",") for p in payloads if not p.startswith(b"{")]
    assert rows
    for row in rows:
        assert len(row) == len(CSV_COLUMNS[int(row[0])])


def test_record_type_mix_follows_the_weights(clean_records):
    counts = {t: 0 for t in RECORD_TYPES}
    for record in clean_records:
        counts[record["record_type"]] += 1
    weights = np.array(CLEAN.record_type_weights) / sum(CLEAN.record_type_weights)
    for record_type, weight in zip(RECORD_TYPES, weights, strict=True):
        assert counts[record_type] / len(clean_records) == pytest.approx(weight, abs=0.015)


def test_answer_rate_and_lognormal_duration_of_calls(clean_records):
    calls = [r for r in clean_records if r["record_type"] in ("MOC", "MTC")]
    answered = [r for r in calls if r["answer_time"] is not None]
    assert len(answered) / len(calls) == pytest.approx(CLEAN.answer_rate, abs=0.02)
    durations = np.array([r["duration_s"] for r in answered], dtype=float)
    assert np.median(durations) == pytest.approx(CLEAN.duration_median_s, rel=0.08)
    assert np.std(np.log(durations)) == pytest.approx(CLEAN.duration_sigma, rel=0.1)


def test_international_share_of_originated_calls(clean_records):
    home_cc = "+1"
    mo = [r for r in clean_records if r["record_type"] == "MOC"]
    foreign = [
        r
        for r in mo
        if r["called_number"].startswith("011")
        or (r["called_number"].startswith("+") and not r["called_number"].startswith(home_cc))
    ]
    # +1 destinations (CA, DO, US) look domestic here, so the measured share is a lower bound.
    assert 0.6 * CLEAN.international_share < len(foreign) / len(mo) <= CLEAN.international_share * 1.2


def test_roaming_share_and_visited_network(clean_records):
    roaming = [r for r in clean_records if r["roaming"]]
    assert len(roaming) / len(clean_records) == pytest.approx(CLEAN.roaming_share, abs=0.02)
    assert all(r["mcc"] != "310" for r in roaming)


def test_activity_is_zipf_like():
    # Given a population, When many records are drawn
    population = Population.build(SynthConfig(subscribers=100_000), np.random.default_rng(1))
    draws = population.sample(np.random.default_rng(2), 400_000)
    counts = np.sort(np.bincount(draws, minlength=population.size))[::-1]
    # Then the top 1 % of subscribers carry the share the power law predicts
    top = counts[: population.size // 100].sum() / len(draws)
    assert top == pytest.approx(population.activity_share(0.01), abs=0.02)
    assert 0.1 < top < 0.25


@pytest.mark.parametrize("region", sorted(PLANS))
def test_home_numbers_are_valid_numbers_of_the_region(region):
    plan = PLANS[region]
    for nsn in random_nsn(plan, np.random.default_rng(5), 300).tolist():
        number = phonenumbers.parse(f"+{plan.country_code}{nsn}")
        assert phonenumbers.is_valid_number(number), number
        assert phonenumbers.region_code_for_number(number) == region


@pytest.mark.parametrize("region", sorted(PLANS))
def test_short_codes_are_valid_short_numbers_of_the_region(region):
    for code in PLANS[region].short_codes:
        number = phonenumbers.parse(str(code), region)
        assert phonenumbers.shortnumberinfo.is_valid_short_number_for_region(number, region), code


def test_us_numbers_use_listed_area_codes_and_valid_exchanges():
    plan = PLANS["US"]
    for nsn in random_nsn(plan, np.random.default_rng(6), 2_000).tolist():
        npa, nxx = nsn // 10**7, nsn // 10**4 % 1000
        assert npa in plan.mobile_prefixes
        assert nxx >= 200 and nxx % 100 != 11 and nxx != 555


def test_international_destinations_are_valid_numbers():
    cc, nsn = destination_numbers(DESTINATIONS, np.random.default_rng(8), 2_000, weighted=False)
    invalid = [
        f"+{c}{n}"
        for c, n in zip(cc.tolist(), nsn.tolist(), strict=True)
        if not phonenumbers.is_valid_number(phonenumbers.parse(f"+{c}{n}"))
    ]
    assert invalid == []


def test_imsi_and_imei_are_well_formed(clean_records):
    for record in clean_records[:2_000]:
        assert len(record["imsi"]) == 15
        if not record["roaming"]:
            assert record["imsi"].startswith("310260")
        digits = [int(d) for d in record["imei"]]
        assert len(digits) == 15
        luhn = sum(d if i % 2 == 0 else (2 * d if d < 5 else 2 * d - 9) for i, d in enumerate(digits))
        assert luhn % 10 == 0


def test_de_region_uses_its_plan_and_clock():
    config = dataclasses.replace(CLEAN, home_region="DE", subscribers=5_000)
    payloads = CdrSynthesizer(config, seed=1).batch(500, at_epoch_s=AT)
    records = [json.loads(p) for p in payloads if p.startswith(b"{")]
    assert {r["utc_offset"] for r in records} == {"+01:00"}
    assert any(r["imsi"].startswith("26201") for r in records)


def test_a_day_follows_the_diurnal_profile():
    synth = CdrSynthesizer(CLEAN, seed=2)
    day_start = 1_795_046_400  # a UTC midnight; the local day starts 5 h later (US -05:00)
    batch = synth.day(20_000, day_start)
    hours = [
        int(match[1]) for p in batch.payloads if (match := re.search(rb'"seizure_time":"[-0-9]+T(\d\d)', p))
    ]
    night = sum(1 for h in hours if 2 <= h < 5) / len(hours)
    busy = sum(1 for h in hours if 17 <= h < 20) / len(hours)
    assert busy > 5 * night


def test_config_rejects_an_unknown_region_with_the_choices():
    with pytest.raises(Exception, match=r"DE.*IN.*US"):
        SynthConfig(home_region="XX")
