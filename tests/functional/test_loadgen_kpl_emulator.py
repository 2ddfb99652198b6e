"""An aggregated (KPL) load through the real producer into the emulator, read back and handed to the real
handler: every CDR the producer counted as accepted comes apart in the handler and is emitted once."""

import csv

from cdrcap.truth import mapping_event, stream_records
from infra.aws import Target
from loadgen.runner import run_load
from pipeline import handler as handler_module
from pipeline.kpl import deaggregate

STREAM = "cdrcap-cdr-in"


def test_an_aggregated_load_comes_apart_in_the_handler_cdr_for_cdr(clean_emulator, pipeline, tmp_path):
    # Given a 2-shard input stream beside the pipeline's resources on the emulator
    kinesis = pipeline.kinesis
    kinesis.create_stream(StreamName=STREAM, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=STREAM, WaiterConfig={"Delay": 0.2})
    target = Target(name="local", endpoint_url=clean_emulator.endpoint_url,
                    kinesis_endpoint_url=clean_emulator.endpoint_url, is_local=True,
                    allowed_streams=(STREAM,))  # fmt: skip
    # When one Locust user sends 200 CDR/s for 4 s through the KPL packer (200 ms buffering), no defects
    result = run_load(target, STREAM, "steady", 200.0, 4.0, tmp_path / "run", users=1, subscribers=5_000,
                      aggregation="kpl", max_buffered_ms=200, defect_scale=0, fraud_scale=0,
                      echo=lambda _: None)  # fmt: skip
    totals = result.totals
    # Then CDRs were packed: far fewer Kinesis records than CDRs, each counted on its own
    assert totals["offered"] == totals["accepted"] > 500 and totals["dropped"] == 0
    assert totals["kinesis_records_accepted"] * 10 < totals["accepted"]
    assert result.summary["cdrs_per_kinesis_record"] > 10
    with result.seconds_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert sum(int(r["kinesis_records_accepted"]) for r in rows) == totals["kinesis_records_accepted"]
    assert sum(int(r["accepted"]) for r in rows) == totals["accepted"]
    # And the stream holds exactly those aggregates, each of CDRs that hash to the shard it is on
    by_shard = stream_records(kinesis, STREAM)
    stored = [r for records in by_shard.values() for r in records]
    assert len(stored) == totals["kinesis_records_accepted"]
    assert sum(len(deaggregate(r["Data"])) for r in stored) == totals["accepted"]
    # When the real handler gets each shard's records as the event source mapping would deliver them
    for shard_id, records in by_shard.items():
        response = handler_module.handler(mapping_event(shard_id, records, STREAM), None)
        # Then nothing fails, nothing is rejected, and every CDR is emitted exactly once
        assert response == {"batchItemFailures": []}
    assert pipeline.dlq_messages(1, deadline_s=1.0) == []
    output = pipeline.output_records()
    assert len(output) == len({o["dedup_key"] for o in output}) == totals["accepted"]


def test_a_load_in_switch_layouts_is_read_by_the_handlers_mappings(
    clean_emulator, pipeline, tmp_path, monkeypatch
):
    # Given the handler configured with the Asterisk and FreeSWITCH JSON mappings
    monkeypatch.setenv("CDRCAP_INPUT_MAPPINGS", "asterisk_cdr_csv,freeswitch_json_cdr")
    handler_module.configure()
    kinesis = pipeline.kinesis
    kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=STREAM, WaiterConfig={"Delay": 0.2})
    target = Target(name="local", endpoint_url=clean_emulator.endpoint_url,
                    kinesis_endpoint_url=clean_emulator.endpoint_url, is_local=True,
                    allowed_streams=(STREAM,))  # fmt: skip
    # When Locust sends a mix of JSON v2 and both switch layouts, no defects or fraud
    mix = "json-v2=0.4,asterisk_cdr_csv=0.3,freeswitch_json_cdr=0.3"
    result = run_load(target, STREAM, "steady", 100.0, 3.0, tmp_path / "run", users=1, subscribers=5_000,
                      formats=mix, defect_scale=0, fraud_scale=0, echo=lambda _: None)  # fmt: skip
    accepted = result.totals["accepted"]
    assert accepted > 150
    (shard_id, records), *_ = stream_records(kinesis, STREAM).items()
    # Then the real handler reads every record, each layout by its mapping, and emits each CDR once
    assert handler_module.handler(mapping_event(shard_id, records, STREAM), None) == {"batchItemFailures": []}
    assert pipeline.dlq_messages(1, deadline_s=1.0) == []
    output = pipeline.output_records()
    assert len(output) == len({o["dedup_key"] for o in output}) == accepted
    formats = {o["cdr"]["source_format"] for o in output}
    assert formats >= {"json", "asterisk_cdr_csv", "freeswitch_json_cdr"}
