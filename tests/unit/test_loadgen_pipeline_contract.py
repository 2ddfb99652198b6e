"""The generator's records against the pipeline's own decoder and validator: clean, fraud and "accepted"
defect records must become canonical CDRs; every other defect must be rejected with its labelled reason."""

import collections
import re

import pytest

from loadgen.options import scaled
from loadgen.synth import CdrSynthesizer, DefectRates, FraudRates, SynthConfig
from loadgen.synth.fraud import EPISODE_RECORDS
from pipeline.decode import Rejected, decode_payload
from pipeline.validate import Limits, to_canonical

AT = 1_795_000_000.0
CDR_ID = re.compile(rb"(MSC\d\d:[a-z0-9]*\d+:0)")
DAY_MS = 86_400_000


def _outcome(payload: bytes, region: str) -> str:
    limits = Limits(
        home_region=region, now_ms=int(AT * 1000) + 60_000, max_future_ms=300_000, max_age_ms=7 * DAY_MS
    )
    try:
        source, fields = decode_payload(payload, 1024 * 1024)
        to_canonical(fields, source, limits)
    except Rejected as rejected:
        return str(rejected.reason)
    return ""


@pytest.mark.parametrize("region", ["US", "DE", "IN"])
def test_every_record_gets_the_outcome_its_label_expects(region):
    # Given a batch with every fraud scenario and every defect at 0.5 %
    defects = DefectRates(**{name: 0.005 for name in DefectRates().as_dict()})
    config = SynthConfig(home_region=region, subscribers=20_000, defects=defects)
    batch = CdrSynthesizer(config, seed=21, run_tag="t1").batch_with_keys(20_000, at_epoch_s=AT)
    expected = {label.cdr_id: label for label in batch.labels if label.scenario != "duplicate"}
    duplicates = {label.cdr_id for label in batch.labels if label.scenario == "duplicate"}
    # When the pipeline decodes and validates each record
    mismatches = collections.Counter()
    for payload in batch.payloads:
        match = CDR_ID.search(payload)
        cdr_id = match[1].decode() if match else ""
        if cdr_id in duplicates:
            continue  # the same bytes twice: only the processor's dedupe can tell (DUPLICATE_CDR)
        label = expected.get(cdr_id)
        want = label.expected_reason if label else ""
        got = _outcome(payload, region)
        if got != want:
            mismatches[(label.scenario if label else "clean", want, got)] += 1
    # Then it agrees with the labels
    assert not mismatches


@pytest.mark.parametrize("region", ["US", "DE"])
def test_every_fraud_and_look_alike_record_is_accepted(region):
    # Given a day of every fraud scenario and look-alike at ten times its rate (their episodes take their
    # time: minutes to hours), without defects
    no_defects = DefectRates(**dict.fromkeys(DefectRates().as_dict(), 0.0))
    config = SynthConfig(
        home_region=region, subscribers=20_000, fraud=scaled(FraudRates(), 10), defects=no_defects
    )
    day = CdrSynthesizer(config, seed=8).day(20_000, int(AT) - 2 * 86_400)  # a local day before "now"
    # When the pipeline decodes and validates each record, then it accepts them all
    outcomes = collections.Counter(_outcome(payload, region) for payload in day.payloads)
    assert outcomes == {"": 20_000}
    assert {label.scenario for label in day.labels} == set(EPISODE_RECORDS)
