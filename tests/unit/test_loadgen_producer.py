import pytest
from botocore.exceptions import ClientError

from infra.aws import Target
from loadgen.errors import StreamNotAllowed
from loadgen.producer import KinesisProducer, split_calls
from tests.support.kinesis_stub import TARGET, ThrottlingKinesis, stub_producer


def _records(n: int) -> tuple[list[bytes], list[str]]:
    return [f"cdr-{i}".encode() for i in range(n)], [f"k{i}" for i in range(n)]


def test_throttled_entries_are_counted_retried_and_end_accepted():
    # Given a stream that throttles 30 % of entries
    stub = ThrottlingKinesis(0.3)
    # When 1,000 records are put
    outcome = stub_producer(stub, attempts=10).put(*_records(1_000))
    # Then every record is accepted once, throttles are counted and equal the retries
    assert outcome.offered == 1_000
    assert outcome.accepted == 1_000 == len(set(stub.stored)) == len(stub.stored)
    assert outcome.throttled > 250
    assert outcome.retried == outcome.throttled
    assert outcome.dropped == 0


def test_only_the_failed_subset_is_retried():
    stub = ThrottlingKinesis(0.3)
    stub_producer(stub).put(*_records(400))
    first, second = stub.calls[0], stub.calls[1]
    accepted_first = set(first) - set(second)
    assert len(second) < len(first)
    assert not accepted_first & set(second)


def test_what_still_fails_after_the_last_attempt_is_dropped_not_sent():
    stub = ThrottlingKinesis(0.6, fail_share=0.2)
    outcome = stub_producer(stub, attempts=2).put(*_records(1_000))
    assert outcome.dropped > 0
    assert outcome.accepted == len(stub.stored)
    assert outcome.offered == outcome.accepted + outcome.dropped
    assert outcome.failed > 0
    assert outcome.retried == len(stub.calls[1]) if len(stub.calls) == 2 else outcome.retried > 0


def test_a_failed_call_counts_all_its_entries():
    class Broken:
        def put_records(self, **_):
            raise ClientError({"Error": {"Code": "InternalFailure", "Message": "x"}}, "PutRecords")

    outcome = stub_producer(Broken(), attempts=3).put(*_records(10))
    assert (outcome.accepted, outcome.failed, outcome.retried, outcome.dropped) == (0, 30, 20, 10)


def test_calls_respect_500_records_and_5_mib():
    many = [(b"x", "k")] * 1_001
    assert [len(c) for c in split_calls(many)] == [500, 500, 1]
    big = [(b"x" * (1024 * 1024 - 10), "k")] * 6
    assert [len(c) for c in split_calls(big)] == [5, 1]


def test_each_call_is_reported_once_with_its_counts():
    stub = ThrottlingKinesis(0.5)
    seen = []
    producer = KinesisProducer(
        TARGET, "cdrcap-cdr-in", kinesis=stub, on_call=seen.append, sleep=lambda _: None
    )
    outcome = producer.put(*_records(100))
    assert len(seen) == len(stub.calls)
    assert sum(c.accepted for c in seen) == outcome.accepted
    assert sum(c.throttled for c in seen) == outcome.throttled


def test_a_stream_outside_the_allow_list_is_refused_with_a_suggestion():
    with pytest.raises(
        StreamNotAllowed, match=r"'cdrcap-cdr-inn' is not allowed.*Did you mean 'cdrcap-cdr-in'"
    ):
        KinesisProducer(TARGET, "cdrcap-cdr-inn", kinesis=ThrottlingKinesis(0.0))


def test_a_target_without_allowed_streams_refuses_everything():
    with pytest.raises(StreamNotAllowed, match="allowed: none"):
        KinesisProducer(Target(name="staging"), "cdrcap-cdr-in", kinesis=ThrottlingKinesis(0.0))


def test_cli_exits_2_for_a_stream_not_allowed(tmp_path, capsys, monkeypatch):
    from cdrcap.cli import main

    (tmp_path / "cdrcap.toml").write_text(
        '[targets.staging]\nregion = "eu-west-1"\nallowed_streams = ["cdrcap-cdr-in"]\n'
    )
    monkeypatch.chdir(tmp_path)
    code = main(["load", "--target", "staging", "--stream", "prod-cdr-in", "--duration", "1"])
    assert code == 2
    assert "'prod-cdr-in' is not allowed" in capsys.readouterr().err
