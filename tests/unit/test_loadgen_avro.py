import math
import uuid

import pytest

from infra.aws import Target
from loadgen.errors import LoadConfigError
from loadgen.keys import KeyStrategy
from loadgen.options import format_weights
from loadgen.profiles import RateProfile
from loadgen.runner import preflight
from loadgen.synth import CdrSynthesizer, SynthConfig
from loadgen.synth.config import FORMATS, DefectRates, FraudRates
from pipeline import gsr
from pipeline.avro_cdr import AvroDecoder, AvroEncoder, InMemorySchemaRegistry, schema_text
from pipeline.decode import decode_payload
from pipeline.processor import BatchProcessor
from pipeline.stores import in_memory_stores
from tests.support.pipeline_events import PIPELINE_CONFIG, kinesis_event

VERSION_ID = uuid.UUID("0f0e0d0c-0b0a-0908-0706-050403020100")


def test_avro_is_a_record_format_drawn_within_json_v2() -> None:
    mix = format_weights("json-v2=0.5,avro=0.3,csv-v2=0.2")
    assert mix["avro_share"] == pytest.approx(0.3)
    assert mix["format_weights"][FORMATS.index("json-v2")] == pytest.approx(0.8)


def test_a_negative_avro_share_is_refused() -> None:
    with pytest.raises(LoadConfigError, match="must be >= 0"):
        format_weights("json-v2=1,avro=-0.2")


def test_an_avro_share_needs_an_encoder() -> None:
    with pytest.raises(LoadConfigError, match="schema's version id"):
        CdrSynthesizer(SynthConfig(subscribers=1_000, **format_weights("avro=1")))


def test_the_synthesizer_writes_its_avro_share_as_framed_avro_the_handler_reads() -> None:
    # Given a clean mix of 60 % Avro and 40 % JSON v2
    config = SynthConfig(
        subscribers=1_000,
        fraud=FraudRates.none(),
        defects=DefectRates(**dict.fromkeys(DefectRates().as_dict(), 0.0)),
        **format_weights("avro=0.6,json-v2=0.4"),
    )
    synth = CdrSynthesizer(config, seed=3, avro_encoder=AvroEncoder(VERSION_ID, 2))
    # When a batch is synthesised
    payloads = synth.batch(1_000, at_epoch_s=1_795_010_400)
    avro = [p for p in payloads if gsr.looks_framed(p)]
    # Then about 60 % are GSR-framed Avro of our schema version, each decoding to a v2 CDR
    assert 520 < len(avro) < 680
    decoder = AvroDecoder(InMemorySchemaRegistry({VERSION_ID: schema_text(2)}))
    for payload in avro[:50]:
        source_format, fields = decode_payload(payload, 65_536, avro=decoder)
        assert source_format == "avro" and fields["schema_version"] == 2 and fields["calling_number"]
    # And the handler takes every record of the batch, Avro and JSON alike
    processor = BatchProcessor(
        PIPELINE_CONFIG, in_memory_stores(), schemas=InMemorySchemaRegistry({VERSION_ID: schema_text(2)})
    )
    outcome = processor.process(kinesis_event(payloads), now_ms=1_795_010_400_000)
    assert outcome.applied == 1_000 and not outcome.rejected


def test_avro_is_smaller_than_the_same_cdrs_in_json() -> None:
    config = SynthConfig(subscribers=1_000, **format_weights("json-v2=1"))
    json_batch = CdrSynthesizer(config, seed=5).batch(500, at_epoch_s=1_795_010_400)
    as_avro = SynthConfig(subscribers=1_000, **format_weights("avro=1"))
    avro_batch = CdrSynthesizer(as_avro, seed=5, avro_encoder=AvroEncoder(VERSION_ID, 2)).batch(
        500, at_epoch_s=1_795_010_400
    )
    framed = [p for p in avro_batch if gsr.looks_framed(p)]
    assert len(framed) > 450
    assert sum(map(len, framed)) / len(framed) < 0.7 * sum(map(len, json_batch)) / len(json_batch)


class OneShardKinesis:
    def list_shards(self, **_: object) -> dict[str, object]:
        return {
            "Shards": [
                {
                    "ShardId": "shardId-000000000000",
                    "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(2**128 - 1)},
                    "SequenceNumberRange": {"StartingSequenceNumber": "1"},
                }
            ]
        }


def test_the_pre_run_shard_prediction_sizes_avro_as_sent() -> None:
    # Given one shard whose bytes limit 300 CDR/s of JSON v2 (~540 B) exceed and of Avro (~225 B) do not
    target = Target(name="local", is_local=True)
    profile = RateProfile("steady", 300.0, 10.0, 1)
    limits = (math.inf, 100 * 1024)

    def warnings(mix: str) -> list[str]:
        synth = SynthConfig(subscribers=1_000, **format_weights(mix))
        found, _ = preflight(
            target, "s", profile, key_strategy=KeyStrategy(), synth=synth, shard_limits=limits,
            kinesis=OneShardKinesis(), aggregated=True,
        )  # fmt: skip
        return found

    # Then JSON is predicted over the bytes limit and the same CDRs as Avro are not
    assert warnings("json-v2=1") and not warnings("avro=1")
