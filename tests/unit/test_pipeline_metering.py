"""The request meter: what the function asks of AWS, in the units AWS bills (pipeline/metering.py)."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from pipeline.metering import METRICS, RequestMeter

CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}


def _metered(service: str) -> tuple[RequestMeter, object, Stubber]:
    meter = RequestMeter()
    client = meter.attach(boto3.client(service, **CREDENTIALS))  # type: ignore[call-overload]
    return meter, client, Stubber(client)


def test_dynamodb_write_units_are_what_the_service_says_it_consumed() -> None:
    # Given a transaction the service answers with 8 consumed write units
    meter, client, stub = _metered("dynamodb")
    items = [{"Put": {"TableName": "tbl", "Item": {"pk": {"S": "a"}}}}]
    stub.add_response(
        "transact_write_items",
        {"ConsumedCapacity": [{"TableName": "tbl", "CapacityUnits": 8.0, "WriteCapacityUnits": 8.0}]},
    )
    sent: list[dict[str, object]] = []
    client.meta.events.register_last(  # type: ignore[attr-defined]
        "before-parameter-build.dynamodb", lambda params, **_: sent.append(dict(params))
    )
    # When it is sent
    with stub:
        client.transact_write_items(TransactItems=items)  # type: ignore[attr-defined]
    # Then the meter asked for the consumed capacity, counts one request and 8 write units, take() resets
    assert sent[0]["ReturnConsumedCapacity"] == "TOTAL"
    counts = meter.take()
    assert counts["AwsDynamoDBRequests"] == 1
    assert counts["AwsDynamoDBWriteUnits"] == 8.0
    assert meter.take()["AwsDynamoDBWriteUnits"] == 0.0


def test_dynamodb_answer_without_consumed_capacity_is_counted_as_unmetered() -> None:
    meter, client, stub = _metered("dynamodb")
    keys = {"tbl": {"Keys": [{"pk": {"S": "a"}}], "ConsistentRead": True}}
    stub.add_response("batch_get_item", {"Responses": {"tbl": []}})
    with stub:
        client.batch_get_item(RequestItems=keys)  # type: ignore[attr-defined]
    counts = meter.take()
    assert counts["AwsDynamoDBUnmeteredRequests"] == 1
    assert counts["AwsDynamoDBReadUnits"] == 0.0


def test_kinesis_put_records_counts_records_bytes_and_25kb_payload_units() -> None:
    # Given one small record and one of 30 KiB (two 25 KB units), partition keys included in the size
    meter, client, stub = _metered("kinesis")
    records = [{"Data": b"x" * 100, "PartitionKey": "k1"}, {"Data": b"y" * 30 * 1024, "PartitionKey": "k2"}]
    stub.add_response(
        "put_records",
        {"Records": [{"SequenceNumber": "1", "ShardId": "s"}] * 2},
    )
    with stub:
        client.put_records(StreamName="out", Records=records)  # type: ignore[attr-defined]
    counts = meter.take()
    assert counts["AwsKinesisPutRequests"] == 1
    assert counts["AwsKinesisPutRecords"] == 2
    assert counts["AwsKinesisPutBytes"] == 100 + 2 + 30 * 1024 + 2
    assert counts["AwsKinesisPutPayloadUnits"] == 1 + 2


def test_sqs_batch_bills_one_request_per_64kb_of_payload() -> None:
    meter, client, stub = _metered("sqs")
    entries = [{"Id": str(i), "MessageBody": "m" * 40 * 1024} for i in range(2)]  # 80 KiB in all
    stub.add_response("send_message_batch", {"Successful": [], "Failed": []})
    with stub:
        client.send_message_batch(QueueUrl="https://q", Entries=entries)  # type: ignore[attr-defined]
    counts = meter.take()
    assert (counts["AwsSqsRequests"], counts["AwsSqsBilledRequests"], counts["AwsSqsMessages"]) == (1, 2, 2)


def test_s3_put_and_eventbridge_entries_are_counted() -> None:
    meter, s3, s3_stub = _metered("s3")
    s3_stub.add_response("put_object", {})
    with s3_stub:
        s3.put_object(Bucket="b", Key="k", Body=b"z" * 1234)  # type: ignore[attr-defined]
    events_meter, events, events_stub = _metered("events")
    events_stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{}, {}]})
    with events_stub:
        events.put_events(  # type: ignore[attr-defined]
            Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"} for _ in range(2)]
        )
    s3_counts = meter.take()
    assert (s3_counts["AwsS3PutRequests"], s3_counts["AwsS3PutBytes"]) == (1, 1234)
    counts = events_meter.take()
    assert (counts["AwsEventBridgeRequests"], counts["AwsEventBridgeEntries"]) == (1, 2)
    assert counts["AwsEventBridgeBilledEvents"] == 2


def test_every_metric_is_present_even_at_zero() -> None:
    assert set(RequestMeter().take()) == set(METRICS)
