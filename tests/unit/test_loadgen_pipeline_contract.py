"""The generator's records against the pipeline's own decoder and validator: clean, fraud and "accepted"
defect records must become canonical CDRs; every other defect must be rejected with its labelled reason."""

import collections
import re

import pytest

from loadgen.synth import CdrSynthesizer, DefectRates, SynthConfig
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
