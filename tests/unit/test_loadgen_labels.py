import csv
import json
import re
from collections import defaultdict

import pytest

from loadgen.synth import CdrSynthesizer, DefectRates, FraudRates, SynthConfig, read_labels
from loadgen.synth.defects import BYTE_DEFECTS
from loadgen.synth.fraud import HIGH_RISK
from pipeline.schema import ReasonCode

AT = 1_795_000_000.0
NO_DEFECTS = DefectRates(**dict.fromkeys(DefectRates().as_dict(), 0.0))
NO_FRAUD = FraudRates(0.0, 0.0, 0.0, 0.0)
CDR_ID = re.compile(rb"(MSC\d\d:\d+:0)")


def _by_id(payloads: list[bytes]) -> dict[str, list[bytes]]:
    found: dict[str, list[bytes]] = defaultdict(list)
    for payload in payloads:
        match = CDR_ID.search(payload)
        if match:
            found[match[1].decode()].append(payload)
    return found


def _fraud_batch(**rates: float):
    config = SynthConfig(subscribers=20_000, fraud=FraudRates(**{"wangiri": 0.0, "irsf": 0.0, "simbox": 0.0,
                                                                 "velocity": 0.0, **rates}),
                         defects=NO_DEFECTS)  # fmt: skip
    return CdrSynthesizer(config, seed=11).batch_with_keys(20_000, at_epoch_s=AT)


def _records(batch, scenario):
    by_id = _by_id(batch.payloads)
    rows = [label for label in batch.labels if label.scenario == scenario]
    assert rows, f"no {scenario} injected"
    pairs = [(label, by_id[label.cdr_id][0]) for label in rows]
    json_pairs = [(label, json.loads(payload)) for label, payload in pairs if payload.startswith(b"{")]
    return [label for label, _ in json_pairs], [record for _, record in json_pairs]


def _producer(seconds: int, per_second: int = 200, **rates: float) -> list:
    """A producer's batches, one a second for `seconds`, from one synthesizer (as a Locust user's)."""
    config = SynthConfig(subscribers=20_000, fraud=FraudRates(**{"wangiri": 0.0, "irsf": 0.0, "simbox": 0.0,
                                                                 "velocity": 0.0, **rates}),
                         defects=NO_DEFECTS)  # fmt: skip
    synthesizer = CdrSynthesizer(config, seed=11)
    return [synthesizer.batch_with_keys(per_second, at_epoch_s=AT + second) for second in range(seconds)]


def test_fraud_share_matches_the_configured_rate():
    # Given a producer sending for 10 minutes (episodes take their 60 s window to complete)
    batches = _producer(600, velocity=0.01)
    labels = sum(len(batch.labels) for batch in batches)
    # Then fraud is the configured share of its records, less the episodes still open at the end
    assert labels / sum(len(batch.payloads) for batch in batches) == pytest.approx(0.01, rel=0.3)


def test_an_episode_spans_the_batches_of_its_window_under_one_actor():
    # Given a producer's small batches, one a second, with IRSF episodes of 40 records over 60 s
    batches = _producer(240, per_second=100, irsf=0.01)
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
