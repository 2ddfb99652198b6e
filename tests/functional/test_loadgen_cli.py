"""`cdrcap load` end to end against the real emulator: synthesised load and replay, read back."""

import json

import pytest

from cdrcap.cli import main
from loadgen.replay import read_records, write_day_file
from loadgen.synth import CdrSynthesizer, SynthConfig
from tests.support.emulator_pipeline import STREAM, records_in_stream


@pytest.fixture
def stream(clean_emulator, aws_session):
    kinesis = aws_session.client("kinesis", endpoint_url=clean_emulator.endpoint_url)
    kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=STREAM, WaiterConfig={"Delay": 0.2})
    return kinesis


def test_cdrcap_load_writes_its_measurements_and_the_stream_holds_them(
    clean_emulator, stream, tmp_path, capsys
):
    # Given a local stream, When `cdrcap load` runs a 4 s steady load at 150 records/s
    run_dir = tmp_path / "run"
    local = ["load", "--target", "local", "--endpoint-url", clean_emulator.endpoint_url, "--stream", STREAM]
    code = main([*local, "--shape", "steady", "--rate", "150", "--duration", "4", "--users", "2",
                 "--subscribers", "5000", "--run-dir", str(run_dir), "--json"])  # fmt: skip
    # Then it exits 0, prints the summary, and the stream holds what it accepted
    assert code == 0
    summary = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert summary["balanced"] is True
    assert 400 <= summary["totals"]["accepted"] <= 700
    assert records_in_stream(stream) == summary["totals"]["accepted"]
    assert (run_dir / "data" / "load_seconds.csv").read_text().startswith("epoch_s,step,target_rps,offered")


def test_cdrcap_load_replays_a_file(clean_emulator, stream, tmp_path):
    # Given a synthetic day of 300 CDRs in a file
    path = write_day_file(tmp_path / "day.ndjson", CdrSynthesizer(SynthConfig(subscribers=1_000), 3), 300,
                          1_795_046_400)  # fmt: skip
    # When it is replayed 100,000 x faster (a day in < 1 s)
    local = ["load", "--target", "local", "--endpoint-url", clean_emulator.endpoint_url, "--stream", STREAM]
    code = main([*local, "--replay", str(path), "--speed", "100000", "--run-dir", str(tmp_path / "run")])
    # Then every timed line is in the stream
    assert code == 0
    assert records_in_stream(stream) == len(read_records(path))
