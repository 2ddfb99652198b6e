import csv
import dataclasses
import json
import re
from collections import Counter, defaultdict
from datetime import datetime

import numpy as np
import pytest

from loadgen.synth import CdrSynthesizer, DefectRates, FraudRates, SynthConfig, read_labels
from loadgen.synth.config import LOOKALIKES
from loadgen.synth.defects import BYTE_DEFECTS
from loadgen.synth.fraud import EPISODE_RECORDS, HIGH_RISK, SCENARIOS, EpisodeClock
from pipeline.schema import ReasonCode

AT = 1_795_000_000.0
NO_DEFECTS = DefectRates(**dict.fromkeys(DefectRates().as_dict(), 0.0))
NO_FRAUD = FraudRates.none()
CDR_ID = re.compile(rb"(MSC\d\d:\d+:0)")


def _by_id(payloads: list[bytes]) -> dict[str, list[bytes]]:
    found: dict[str, list[bytes]] = defaultdict(list)
    for payload in payloads:
        match = CDR_ID.search(payload)
        if match:
            found[match[1].decode()].append(payload)
    return found


def _config(**rates: float) -> SynthConfig:
    """Only the given scenarios (look-alikes are scenarios too), no defects."""
    return SynthConfig(subscribers=20_000, fraud=dataclasses.replace(NO_FRAUD, **rates), defects=NO_DEFECTS)


def _fraud_batch(**rates: float):
    """A day of 20,000 records: every episode has its time to complete."""
    return CdrSynthesizer(_config(**rates), seed=11).day(20_000, int(AT))


def _records(batch, scenario):
    by_id = _by_id(batch.payloads)
    rows = [label for label in batch.labels if label.scenario == scenario]
    assert rows, f"no {scenario} injected"
    pairs = [(label, by_id[label.cdr_id][0]) for label in rows]
    json_pairs = [(label, json.loads(payload)) for label, payload in pairs if payload.startswith(b"{")]
    return [label for label, _ in json_pairs], [record for _, record in json_pairs]


def _producer(seconds: int, per_second: int = 200, **rates: float) -> list:
    """A producer's batches, one a second for `seconds`, from one synthesizer (as a Locust user's)."""
    synthesizer = CdrSynthesizer(_config(**rates), seed=11)
    return [synthesizer.batch_with_keys(per_second, at_epoch_s=AT + second) for second in range(seconds)]


def test_fraud_share_matches_the_configured_rate():
    # Given a producer sending for 10 minutes (a velocity flood takes about a minute to complete)
    batches = _producer(600, velocity=0.01)
    labels = sum(len(batch.labels) for batch in batches)
    # Then fraud is the configured share of its records, less the episodes still open at the end
    assert labels / sum(len(batch.payloads) for batch in batches) == pytest.approx(0.01, rel=0.3)


def _ci_fraud() -> FraudRates:
    """The ci profile's fraud: every scenario scaled so fraud is 2 % of the records."""
    scale = 0.02 / FraudRates().total()
    return FraudRates(**{k: v * scale for k, v in dataclasses.asdict(FraudRates()).items()})


@pytest.mark.parametrize("seed", range(8))
def test_the_episode_clock_begins_each_scenarios_share_whatever_the_batches(seed):
    # Given the ci profile's short run: 8,100 records in small uneven producer batches
    config = SynthConfig(fraud=_ci_fraud())
    clock = EpisodeClock(config, np.random.default_rng(seed))
    sizes = np.random.default_rng(seed).integers(1, 60, 400)
    sizes = sizes[np.cumsum(sizes) <= 8_100]
    begun = np.sum([clock.begin(int(size)) for size in sizes], axis=0)
    # Then every scenario began the floor or the ceiling of its expected episodes (not a Poisson draw,
    # which left such a run with no fraud episode at all about once in 80 runs)
    for scenario, count in zip(SCENARIOS, begun, strict=True):
        expected = getattr(config.fraud, scenario.name) * int(sizes.sum()) / scenario.records
        assert int(expected) <= count <= int(expected) + 1, (scenario.name, expected, count)


@pytest.mark.parametrize("seed", range(8))
def test_a_short_run_labels_fraud_whatever_the_seed(seed):
    # Given 3 minutes of a producer at 45 records/s with the ci profile's fraud
    synthesizer = CdrSynthesizer(SynthConfig(fraud=_ci_fraud(), defects=NO_DEFECTS), seed=seed)
    labels = [
        label
        for second in range(180)
        for label in synthesizer.batch_with_keys(45, at_epoch_s=AT + second).labels
    ]
    # Then its records carry fraud: a Wangiri and a velocity episode begin in any such run, each at a
    # random moment (one begun in the last seconds has released nothing yet)
    assert {label.scenario for label in labels} & {"wangiri", "velocity"}


def test_an_episode_spans_the_batches_of_its_window_under_one_actor():
    # Given a producer's small batches, one a second, with Wangiri episodes of 40 records within 60 s
    batches = _producer(240, per_second=100, wangiri=0.01)
    by_episode: dict[str, list] = {}
    for second, batch in enumerate(batches):
        for label in batch.labels:
            by_episode.setdefault(label.episode, []).append((second, label))
    # Then episodes begun in the first two minutes are whole (40 records), spread over about a minute of
    # batches, each under one actor (the fraudster's number), not one burst inside one batch
    early = {episode: rows for episode, rows in by_episode.items() if rows[0][0] < 120}
    assert early and all(len(rows) == 40 for rows in early.values())
    for rows in early.values():
        seconds = [second for second, _ in rows]
        assert 30 <= max(seconds) - min(seconds) <= 90
        assert len({label.subscriber for _, label in rows}) == 1


def test_wangiri_is_one_foreign_number_ringing_many_subscribers_briefly():
    labels, records = _records(_fraud_batch(wangiri=0.005), "wangiri")
    episode = [r for r, label in zip(records, labels, strict=True) if label.episode == labels[0].episode]
    callers = {r.get("calling_number") or r.get("a_party") for r in episode}
    assert len(callers) == 1
    assert {r["record_type"] for r in episode} == {"MTC"}
    assert all(r["answer_time"] is None and r["duration_s"] <= 3 for r in episode)
    assert len({r["called_number"] for r in episode}) > len(episode) * 0.9


def test_irsf_calls_go_to_high_risk_ranges_for_long():
    _, records = _records(_fraud_batch(irsf=0.005), "irsf")
    prefixes = tuple(f"+{d.country_code}" for d in HIGH_RISK)
    assert all(r["called_number"].startswith(prefixes) for r in records)
    assert min(r["duration_s"] for r in records) >= 60


def test_simbox_sims_share_one_imei_and_one_cell():
    labels, records = _records(_fraud_batch(simbox=0.005), "simbox")
    episode = [r for r, label in zip(records, labels, strict=True) if label.episode == labels[0].episode]
    assert len({r["imei"] for r in episode}) == 1
    assert len({r["cell_id"] for r in episode}) == 1
    assert len({r["imsi"] for r in episode}) > 1


def _calls(records: list[dict]) -> list[tuple[int, int]]:
    """(seizure, release) epoch seconds of each call (the local times of one region, compared together)."""

    def seconds(text: str) -> int:
        return int(datetime.fromisoformat(text).timestamp())

    return [
        (seconds(r["seizure_time"]), seconds(r["release_time"]))
        for r in records
        if r["record_type"] != "SMS_MO"
    ]


def _most_at_once(calls: list[tuple[int, int]]) -> int:
    ends = sorted(calls)
    return max(sum(1 for s, e in ends if s <= start < e) for start, _ in ends) if ends else 0


def _episodes(labels, records) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for label, record in zip(labels, records, strict=True):
        grouped[label.episode].append(record)
    return grouped


def test_a_cloned_sim_holds_four_or_more_calls_at_once_from_many_cells():
    # JSON only, so every record of an episode is read; an episode the end of the day cut off is left out
    config = dataclasses.replace(_config(simultaneous=0.002), format_weights=(0.55, 0.45, 0.0, 0.0))
    batch = CdrSynthesizer(config, seed=11).day(20_000, int(AT))
    labels, records = _records(batch, "simultaneous")
    sizes = Counter(label.episode for label in batch.labels)
    whole = 0
    for episode_id, episode in _episodes(labels, records).items():
        assert len({r.get("calling_number") or r.get("a_party") for r in episode}) == 1
        if sizes[episode_id] == EPISODE_RECORDS["simultaneous"]:
            whole += 1
            assert _most_at_once(_calls(episode)) >= 4
            assert len({r["cell_id"] for r in episode}) > 2
    assert whole


def test_no_other_scenario_holds_four_calls_at_once():
    # Calls on one line follow each other: IRSF has 3 lines, a SIM-box one per SIM, velocity one
    for scenario in ("irsf", "velocity"):
        labels, records = _records(_fraud_batch(**{scenario: 0.005}), scenario)
        assert all(_most_at_once(_calls(e)) < 4 for e in _episodes(labels, records).values()), scenario
    labels, records = _records(_fraud_batch(simbox=0.01), "simbox")
    for episode in _episodes(labels, records).values():
        by_sim: dict[str, list[dict]] = defaultdict(list)
        for record in episode:
            by_sim[record["imsi"]].append(record)
        assert all(_most_at_once(_calls(calls)) == 1 for calls in by_sim.values())


def test_sms_spam_texts_many_numbers_slower_than_a_velocity_flood():
    labels, records = _records(_fraud_batch(sms_spam=0.01), "sms_spam")
    for episode in _episodes(labels, records).values():
        assert {r["record_type"] for r in episode} == {"SMS_MO"}
        assert len({r["called_number"] for r in episode}) >= 0.9 * len(episode)
        minutes = defaultdict(int)
        for record in episode:
            minutes[record["seizure_time"][:16]] += 1
        assert max(minutes.values()) < 25 / 2  # the velocity rule's 25 SMS in two minutes


def test_a_single_sim_box_calls_from_one_cell_for_hours():
    batch = _fraud_batch(simbox_sim=0.01)
    labels, records = _records(batch, "simbox")
    sizes = Counter(label.episode for label in batch.labels)
    whole = 0
    for episode_id, episode in _episodes(labels, records).items():
        assert len({r["imsi"] for r in episode}) == 1 and len({r["cell_id"] for r in episode}) == 1
        calls = _calls(episode)
        assert _most_at_once(calls) == 1
        if sizes[episode_id] == EPISODE_RECORDS["simbox"]:  # not cut off by the end of the day
            whole += 1
            assert max(e for _, e in calls) - min(s for s, _ in calls) > 3600
    assert whole


def test_look_alikes_are_unlabelled_traffic():
    rates = {"call_centre": 0.01, "foreign_business": 0.01, "a2p_sms": 0.03, "diaspora": 0.001}
    batch = _fraud_batch(**rates)
    assert not [label for label in batch.labels if label.kind == "fraud"]
    records = [json.loads(p) for p in batch.payloads if p.startswith(b"{")]
    short_codes = [
        r
        for r in records
        if r["record_type"] == "SMS_MO" and len(r.get("calling_number") or r.get("a_party") or "") <= 6
    ]
    assert len(short_codes) > 50  # the A2P sender's bulk


def test_every_scenario_has_its_rate_and_each_rule_one_episode_size():
    names = {scenario.name for scenario in SCENARIOS}
    assert names == set(FraudRates.__dataclass_fields__)
    for rule, records in EPISODE_RECORDS.items():
        assert {s.records for s in SCENARIOS if s.rule == rule} == {records}
    assert {s.name for s in SCENARIOS if not s.rule} == set(LOOKALIKES)
    assert FraudRates().total() == pytest.approx(
        sum(getattr(FraudRates(), s.name) for s in SCENARIOS if s.rule)
    )


def test_labels_stay_out_of_band(tmp_path):
    # Given a synthesizer writing labels to the run directory
    path = tmp_path / "labels.csv"
    synth = CdrSynthesizer(SynthConfig(subscribers=5_000), seed=2, labels_path=path)
    batch = synth.batch_with_keys(20_000, at_epoch_s=AT)
    synth.close()
    # Then the labels file holds them, and no payload mentions a scenario or label
    assert read_labels(path) == batch.labels
    assert not any(b"wangiri" in p or b"scenario" in p or b"expected_reason" in p for p in batch.payloads)
    with path.open() as handle:
        assert next(csv.reader(handle))[0] == "cdr_id"


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [
        ("truncated_json", ReasonCode.MALFORMED_PAYLOAD),
        ("wrong_type", ReasonCode.BAD_TYPE),
        ("invalid_utf8", ReasonCode.BAD_ENCODING),
        ("nul_byte", ReasonCode.BAD_ENCODING),
        ("csv_column_count", ReasonCode.MALFORMED_PAYLOAD),
        ("unknown_schema_version", ReasonCode.UNKNOWN_SCHEMA_VERSION),
        ("negative_duration", ReasonCode.NEGATIVE_DURATION),
        ("end_before_start", ReasonCode.END_BEFORE_START),
        ("invalid_phone_number", ReasonCode.INVALID_PHONE_NUMBER),
        ("duplicate", ReasonCode.DUPLICATE_CDR),
    ],
)
def test_each_defect_is_labelled_with_its_reason(scenario, reason):
    # Given only this defect at 1 %
    rates = DefectRates(**{**dict.fromkeys(DefectRates().as_dict(), 0.0), scenario: 0.01})
    batch = CdrSynthesizer(
        SynthConfig(subscribers=5_000, fraud=NO_FRAUD, defects=rates), seed=5
    ).batch_with_keys(10_000, at_epoch_s=AT)
    # Then about 1 % of records carry its label and reason
    assert {label.scenario for label in batch.labels} == {scenario}
    assert {label.expected_reason for label in batch.labels} == {reason}
    assert 50 <= len(batch.labels) <= 150


def test_defective_payloads_show_their_defect():
    rates = DefectRates(**{**dict.fromkeys(DefectRates().as_dict(), 0.003)})
    batch = CdrSynthesizer(
        SynthConfig(subscribers=5_000, fraud=NO_FRAUD, defects=rates), seed=9
    ).batch_with_keys(20_000, at_epoch_s=AT)
    labelled = {label.scenario: label for label in batch.labels if label.scenario in BYTE_DEFECTS}
    payloads = {label.scenario: [p for p in batch.payloads if label.cdr_id.encode() in p]
                for label in labelled.values()}  # fmt: skip
    assert b"\x00" in payloads["nul_byte"][0]
    with pytest.raises(UnicodeDecodeError):
        payloads["invalid_utf8"][0].decode()
    assert b'"schema_version":9' in payloads["unknown_schema_version"][0] or payloads[
        "unknown_schema_version"
    ][0].startswith(b"9,")
    dupes = [label.cdr_id for label in batch.labels if label.scenario == "duplicate"]
    by_id = _by_id(batch.payloads)
    assert dupes
    assert all(len(by_id[cdr_id]) >= 2 and len(set(by_id[cdr_id])) == 1 for cdr_id in dupes)


def test_time_defects_are_labelled_as_accepted():
    rates = DefectRates(**{**dict.fromkeys(DefectRates().as_dict(), 0.0), "late": 0.01, "out_of_order": 0.01})
    batch = CdrSynthesizer(
        SynthConfig(subscribers=5_000, fraud=NO_FRAUD, defects=rates), seed=5
    ).batch_with_keys(10_000, at_epoch_s=AT)
    late = [label for label in batch.labels if label.scenario == "late"]
    assert late and all(label.expected_reason == "" for label in late)
    assert all(AT - label.first_utc_s > 60 for label in late)


def test_a_run_tag_makes_cdr_ids_unique_per_run_and_labels_follow():
    # Given two runs with one seed but different run tags
    config = SynthConfig(subscribers=5_000, defects=DefectRates(duplicate=0.01))
    first = CdrSynthesizer(config, seed=1, run_tag="a1").batch_with_keys(2_000, at_epoch_s=AT)
    second = CdrSynthesizer(config, seed=1, run_tag="b2").batch_with_keys(2_000, at_epoch_s=AT)
    # Then no cdr_id repeats across the runs, and every label names a cdr_id found in its own payloads
    assert not set(_by_id_tagged(first.payloads)) & set(_by_id_tagged(second.payloads))
    ids = _by_id_tagged(first.payloads)
    assert first.labels and all(label.cdr_id in ids for label in first.labels)


def _by_id_tagged(payloads: list[bytes]) -> set[str]:
    return {m[1].decode() for p in payloads if (m := re.search(rb"(MSC\d\d:[a-z0-9]+:0)", p))}
