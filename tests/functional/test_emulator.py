import pytest

from infra.local.emulator import EmulatorError, EmulatorProcess, is_healthy, port_is_free, start_emulator


def test_emulator_answers_kinesis_on_loopback(clean_emulator: EmulatorProcess, aws_session) -> None:
    # Given the session emulator, When a stream is created and written
    kinesis = aws_session.client("kinesis", endpoint_url=clean_emulator.endpoint_url)
    kinesis.create_stream(StreamName="probe", ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName="probe", WaiterConfig={"Delay": 0.2})
    response = kinesis.put_records(StreamName="probe", Records=[{"Data": b"x", "PartitionKey": "k"}])
    # Then the record is accepted and the emulator is healthy
    assert response["FailedRecordCount"] == 0
    assert is_healthy(clean_emulator.endpoint_url)


def test_port_in_use_is_reported_with_the_fix(emulator: EmulatorProcess, tmp_path) -> None:
    assert not port_is_free(emulator.port)
    with pytest.raises(EmulatorError, match=f"port {emulator.port}.*already in use"):
        start_emulator(emulator.port, log_dir=tmp_path)
