"""The fast PutRecords transport: signed like botocore, and the producer's accounting is the same through
it as through boto3, for the same throttles and failed calls from a scripted loopback endpoint."""

import datetime as dt
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from infra.aws import Target
from loadgen.errors import LoadgenError
from loadgen.producer import KinesisProducer, PutOutcome, RetryPolicy
from loadgen.sigv4 import SigV4Signer
from loadgen.transport import JSON_CONTENT_TYPE, PUT_RECORDS_TARGET, FastTransport
from tests.support.kinesis_endpoint import scripted_kinesis

STREAM = "cdrcap-cdr-in"
MOMENT = dt.datetime(2026, 11, 26, 5, 30, 7, tzinfo=dt.UTC)
BODY = b'{"StreamName":"cdrcap-cdr-in","Records":[{"Data":"eyJhIjoxfQ==","PartitionKey":"s1"}]}'


def botocore_authorization(url: str, credentials: ReadOnlyCredentials, monkeypatch) -> str:
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: MOMENT.replace(tzinfo=None))
    request = AWSRequest(
        method="POST",
        url=url,
        data=BODY,
        headers={"Content-Type": JSON_CONTENT_TYPE, "X-Amz-Target": PUT_RECORDS_TARGET},
    )
    SigV4Auth(credentials, "kinesis", "eu-west-1").add_auth(request)
    return str(request.headers["Authorization"])


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEJr//////////session+token="])
@pytest.mark.parametrize(
    ("url", "host"),
    [("https://kinesis.eu-west-1.amazonaws.com", "kinesis.eu-west-1.amazonaws.com"),
     ("http://127.0.0.1:4567", "127.0.0.1:4567")],
)  # fmt: skip
def test_the_signature_is_botocores_for_the_same_request_and_time(url, host, token, monkeypatch):
    # Given credentials (with and without a session token) and one PutRecords body
    credentials = ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    # When both sign it at the same instant
    ours = SigV4Signer("eu-west-1", "kinesis", lambda: credentials).sign(
        {"Host": host, "Content-Type": JSON_CONTENT_TYPE, "X-Amz-Target": PUT_RECORDS_TARGET},
        BODY,
        now=MOMENT,
    )
    # Then the Authorization headers are identical
    assert ours["Authorization"] == botocore_authorization(url, credentials, monkeypatch)
    assert ours.get("X-Amz-Security-Token") == token


def test_fresh_credentials_are_used_as_soon_as_the_provider_returns_them():
    # Given a provider whose credentials rotate (what botocore's refreshable credentials do)
    keys = iter(["AKIDFIRST", "AKIDSECOND"])
    signer = SigV4Signer("us-east-1", "kinesis", lambda: ReadOnlyCredentials(next(keys), "secret", None))
    # When two requests are signed, Then each carries the key current at its time
    first = signer.sign({"Host": "h"}, b"{}", now=MOMENT)["Authorization"]
    second = signer.sign({"Host": "h"}, b"{}", now=MOMENT)["Authorization"]
    assert "Credential=AKIDFIRST/" in first and "Credential=AKIDSECOND/" in second


def throttle_pattern(data: bytes) -> int:
    """Record i is throttled on its first (i % 3) sends; i % 7 == 0 more than the attempts allow."""
    index = int(data.split(b"-")[1])
    return 9 if index % 7 == 0 else index % 3


# call 2: whole call throttled (HTTP 400); call 4: HTTP 500; call 6: connection closed without answer
WHOLE_CALL_FAILURES: dict[int, tuple[Any, ...]] = {2: ("throttle",), 4: ("status", 500), 6: ("reset",)}


def run_through(transport: str) -> tuple[PutOutcome, list[bytes], Any]:
    payloads = [f"cdr-{i}".encode() for i in range(1_200)]
    keys = [f"s{i}" for i in range(1_200)]
    with scripted_kinesis(throttle_pattern, WHOLE_CALL_FAILURES) as endpoint:
        target = Target(name="local", endpoint_url=endpoint.url, is_local=True, allowed_streams=(STREAM,))
        producer = KinesisProducer(target, STREAM, transport=transport, retry=RetryPolicy(max_attempts=4),
                                   sleep=lambda _: None, seed=3)  # fmt: skip
        outcome = producer.put(payloads, keys)
        return outcome, list(endpoint.stored), endpoint


def accounting(outcome: PutOutcome) -> tuple[Any, ...]:
    names = ("offered", "accepted", "throttled", "failed", "retried", "dropped", "accepted_bytes")
    counters = tuple(getattr(outcome, name) for name in names)
    calls = [
        (c.records, c.accepted, c.throttled, c.failed, c.attempt, c.error is None) for c in outcome.calls
    ]
    return counters, calls


def test_accounting_is_identical_through_the_fast_and_the_boto3_transport():
    # Given an endpoint that throttles entries, throttles a whole call, fails one with 500 and resets one
    # When the same 1,200 records go through each transport
    fast, fast_stored, _ = run_through("fast")
    boto3, boto3_stored, _ = run_through("boto3")
    # Then every counter and every call's counts are the same, and the endpoint stored the same records
    assert accounting(fast) == accounting(boto3)
    assert fast_stored == boto3_stored
    assert fast.offered == fast.accepted + fast.dropped == 1_200
    assert fast.throttled > 0 and fast.failed > 0 and fast.dropped > 0


def test_whole_call_failures_are_counted_per_entry_and_the_call_is_retried():
    # Given the scripted endpoint, When records go through the fast transport
    outcome, stored, _ = run_through("fast")
    errors = [(c.error, c.records, c.throttled, c.failed) for c in outcome.calls if c.error]
    # Then the HTTP 400 throttle counts all its entries as throttled, the 500 and the reset as failed
    assert [e[0] for e in errors] == ["ProvisionedThroughputExceededException", "InternalFailure",
                                      "RemoteDisconnected"]  # fmt: skip
    assert errors[0][2] == errors[0][1] and errors[1][3] == errors[1][1] and errors[2][3] == errors[2][1]
    # And the records throttled on every attempt were dropped, never stored
    assert outcome.accepted == len(stored) == len(set(stored))
    assert not [data for data in stored if int(data.split(b"-")[1]) % 7 == 0]


def test_connections_are_kept_alive_and_every_request_is_signed():
    # Given a healthy endpoint, When 2,000 records go in 4 calls through the fast transport
    with scripted_kinesis(lambda _: 0) as endpoint:
        target = Target(name="local", endpoint_url=endpoint.url, is_local=True, allowed_streams=(STREAM,))
        producer = KinesisProducer(target, STREAM, transport="fast")
        outcome = producer.put([f"cdr-{i}".encode() for i in range(2_000)], ["k"] * 2_000)
        # Then one connection carried them all, each request signed with the local test key
        assert outcome.accepted == 2_000
        assert endpoint.connections == 1
        assert len(endpoint.authorizations) == 4
        assert all(a.startswith("AWS4-HMAC-SHA256 Credential=test/") for a in endpoint.authorizations)


def test_a_refused_connection_is_a_failed_call_not_an_exception():
    # Given nothing listening on the endpoint, When records are put through the fast transport
    transport = FastTransport("http://127.0.0.1:1", "us-east-1",
                              lambda: ReadOnlyCredentials("test", "test", None))  # fmt: skip
    target = Target(name="local", is_local=True, allowed_streams=(STREAM,))
    producer = KinesisProducer(target, STREAM, transport=transport, retry=RetryPolicy(max_attempts=2),
                               sleep=lambda _: None)  # fmt: skip
    outcome = producer.put([b"a", b"b"], ["k", "k"])
    # Then every attempt counts as failed and the records are dropped, never sent
    assert (outcome.failed, outcome.retried, outcome.dropped, outcome.accepted) == (4, 2, 2, 0)
    assert outcome.calls[0].error == "ConnectionRefusedError"


def test_an_aws_target_signs_with_the_sessions_credentials_and_region(monkeypatch, tmp_path):
    # Given credentials only in the environment (as an instance role or CI would provide them)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with scripted_kinesis(lambda _: 0) as endpoint:
        target = Target(name="staging", region="eu-west-1", endpoint_url=endpoint.url,
                        allowed_streams=(STREAM,))  # fmt: skip
        # When a record is put through the fast transport
        KinesisProducer(target, STREAM).put([b"cdr"], ["k"])
        # Then the request was signed with them, for the target's region
        assert endpoint.authorizations[0].startswith("AWS4-HMAC-SHA256 Credential=AKIDFROMENV/")
        assert "/eu-west-1/kinesis/aws4_request" in endpoint.authorizations[0]


def test_an_aws_target_without_credentials_is_refused_with_the_fix(monkeypatch, tmp_path):
    # Given no credentials anywhere boto3 looks (the metadata service disabled)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    target = Target(name="staging", region="eu-west-1", allowed_streams=(STREAM,))
    # When a fast producer is built for it, Then it says what to configure
    with pytest.raises(LoadgenError, match="no AWS credentials found for target 'staging'"):
        KinesisProducer(target, STREAM)
