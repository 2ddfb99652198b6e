import pytest

from infra.aws import Target
from loadgen.producer import KinesisProducer
from loadgen.replay import parse_line, read_records, replay, schedule, write_day_file
from loadgen.safety import Caps
from loadgen.synth import CdrSynthesizer, SynthConfig

TARGET = Target(name="local", is_local=True, allowed_streams=("s",))


class Sink:
    def __init__(self):
        self.stored = []

    def put_records(self, StreamName, Records):
        self.stored += [r["Data"] for r in Records]
        return {"FailedRecordCount": 0, "Records": [{"SequenceNumber": "1"} for _ in Records]}


def test_json_and_csv_lines_give_the_release_time_in_utc():
    json_line = (
        b'{"release_time":"2026-11-26T10:00:00","utc_offset":"-05:00","calling_number":"+12125550100"}\n'
    )
    csv_line = (
        b"1,MSC01:1:0,MOC,+12125550100,+12125550101,1,1,2026-11-26T10:00:00,,2026-11-26T10:00:30,+01:00\n"
    )
    json_record, csv_record = parse_line(json_line), parse_line(csv_line)
    assert json_record is not None and csv_record is not None
    assert json_record.release_epoch_s - csv_record.release_epoch_s == pytest.approx(6 * 3600 - 30)
    assert json_record.payload == json_line.rstrip()


def test_schedule_compresses_time_by_the_speed_up(tmp_path):
    path = write_day_file(tmp_path / "day.ndjson", CdrSynthesizer(SynthConfig(subscribers=1_000), 1), 2_000,
                          1_795_046_400)  # fmt: skip
    records = read_records(path)
    span_s = records[-1].release_epoch_s - records[0].release_epoch_s
    batches = list(schedule(records, speed=3_600, max_batch=500))
    assert batches[-1][0] == pytest.approx(span_s / 3_600, abs=0.2)
    assert sum(len(b) for _, b in batches) == len(records)


def test_replay_sends_every_timed_line_byte_for_byte(tmp_path):
    path = write_day_file(tmp_path / "day.ndjson", CdrSynthesizer(SynthConfig(subscribers=1_000), 1), 500,
                          1_795_046_400)  # fmt: skip
    sink = Sink()
    clock = [0.0]
    producer = KinesisProducer(TARGET, "s", kinesis=sink, sleep=lambda s: None)
    recorder = replay(path, producer, speed=1e6, caps=Caps(10_000, 60), clock=lambda: clock[0],
                      sleep=lambda s: clock.__setitem__(0, clock[0] + s))  # fmt: skip
    timed = read_records(path)
    assert sorted(sink.stored) == sorted(r.payload for r in timed)
    assert recorder.summary()["totals"]["accepted"] == len(timed)


def test_replay_stops_at_the_record_cap(tmp_path):
    path = write_day_file(tmp_path / "day.ndjson", CdrSynthesizer(SynthConfig(subscribers=1_000), 1), 500,
                          1_795_046_400)  # fmt: skip
    sink = Sink()
    producer = KinesisProducer(TARGET, "s", kinesis=sink, sleep=lambda s: None)
    replay(path, producer, speed=1e9, caps=Caps(100, 60), sleep=lambda s: None)
    assert len(sink.stored) == 100
