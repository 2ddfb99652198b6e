"""The load generator writes VoIP switch layouts (loadgen/layouts.py) from the same mapping files the handler
reads them with: a CDR written in a layout comes out of the pipeline as the native one does, on every field
the layout carries."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import pytest

from loadgen.errors import LoadConfigError
from loadgen.layouts import LayoutWriter
from loadgen.options import format_weights
from loadgen.synth.config import DefectRates, FraudRates, SynthConfig
from loadgen.synth.synthesizer import CdrSynthesizer
from pipeline.mapping_spec import shipped_mapping_names
from tests.support.mapped_batches import ALL, dlq, outputs, run

# What a switch layout carries (mapped fields); the rest (IMSI, cell, ...) it cannot.
CARRIED = (
    "record_type",
    "a_number",
    "b_number",
    "seizure_utc_ms",
    "answer_utc_ms",
    "release_utc_ms",
    "duration_s",
    "answered",
    "call_reference",
)


def _clean_config(**overrides: Any) -> SynthConfig:
    zero_defects = DefectRates(**dict.fromkeys(DefectRates().as_dict(), 0.0))
    zero_fraud = FraudRates.none()
    return SynthConfig(fraud=zero_fraud, defects=zero_defects, **overrides)


def _voice_cdrs(writer: LayoutWriter, n: int = 200) -> list[dict[str, Any]]:
    synth = CdrSynthesizer(_clean_config(format_weights=(1.0, 0.0, 0.0, 0.0)), seed=7)
    cdrs = [orjson.loads(p) for p in synth.batch(n, at_epoch_s=1_795_006_800)]
    return [cdr for cdr in cdrs if writer.carries(cdr["record_type"])]


@pytest.mark.parametrize("layout", shipped_mapping_names())
def test_a_cdr_written_in_a_switch_layout_comes_out_as_the_native_one(layout: str) -> None:
    # Given synthetic voice CDRs, answered and not, sent natively and in the switch's layout
    writer = LayoutWriter.named(layout)
    cdrs = _voice_cdrs(writer)
    assert {c["answer_time"] is None for c in cdrs} == {True, False}
    native_outcome, native = run([orjson.dumps(c) for c in cdrs])
    outcome, mapped = run([writer.write(c) for c in cdrs], ALL)
    # Then every record is applied, picked by the layout's signature, with the same carried fields
    assert (outcome.applied, dlq(mapped)) == (native_outcome.applied, [])
    got, want = outputs(mapped), outputs(native)
    assert {c["source_format"] for c in got} == {layout}
    assert [{k: c[k] for k in CARRIED} for c in got] == [{k: c[k] for k in CARRIED} for c in want]


def test_the_asterisk_layout_speaks_asterisks_words() -> None:
    writer = LayoutWriter.named("asterisk_cdr_csv")
    cdrs = _voice_cdrs(writer, 50)
    line = writer.write(next(c for c in cdrs if c["answer_time"] is not None)).decode()
    # Quoted text and bare numbers as Master.csv has them, the disposition in Asterisk's vocabulary
    assert '"ANSWERED"' in line and line.count(",") == 17
    unanswered = writer.write(next(c for c in cdrs if c["answer_time"] is None)).decode()
    assert '"NO ANSWER"' in unanswered


def test_a_record_type_the_layout_cannot_carry_is_refused_naming_it() -> None:
    writer = LayoutWriter.named("asterisk_cdr_csv")
    with pytest.raises(LoadConfigError, match="cannot carry a SMS_MO record"):
        writer.write({"record_type": "SMS_MO"})


def test_a_load_mixes_native_formats_and_switch_layouts_in_their_shares() -> None:
    # Given a mix of JSON v2 and two switch layouts, no fraud or defects
    mix = format_weights("json-v2=0.5,asterisk_cdr_csv=0.25,freeswitch_json_cdr=0.25")
    synth = CdrSynthesizer(_clean_config(**mix), seed=3)
    payloads = synth.batch(4_000, at_epoch_s=1_795_006_800)
    # When the pipeline reads them with those mappings configured
    outcome, stores = run(payloads, "asterisk_cdr_csv,freeswitch_json_cdr")
    # Then nothing is rejected, and each layout has its share of the voice records (SMS and data stay JSON v1)
    assert (outcome.applied, dlq(stores)) == (4_000, [])
    formats = Counter(c["source_format"] for c in outputs(stores))
    voice = sum(1 for c in outputs(stores) if c["record_type"] in ("MOC", "MTC"))
    assert formats["asterisk_cdr_csv"] == pytest.approx(voice * 0.25, rel=0.15)
    assert formats["freeswitch_json_cdr"] == pytest.approx(voice * 0.25, rel=0.15)
    assert formats["json"] > 0


@pytest.mark.parametrize(
    ("mix", "message"),
    [
        (
            "kamailio_acc=1",
            r"unknown format 'kamailio_acc'; use json-v1, .* or a switch layout \(asterisk_cdr_csv",
        ),
        ("asterisk_cdr_csv=x", r"share of 'asterisk_cdr_csv' is not a number: 'x'"),
    ],
)
def test_bad_format_mixes_name_the_value(mix: str, message: str) -> None:
    with pytest.raises(LoadConfigError, match=message):
        format_weights(mix)


def test_layout_shares_beyond_the_json_v1_draws_are_refused() -> None:
    with pytest.raises(LoadConfigError, match="within the json-v1 share"):
        SynthConfig(format_weights=(0.1, 0.9, 0.0, 0.0), layout_weights=(("asterisk_cdr_csv", 0.5),))
