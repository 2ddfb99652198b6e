"""The prepared request path of the aggregate and fraud stores' DynamoDB calls and the output stream's
PutRecords: the same request body as botocore's own serializer, the same answer as its parser (binary values
as base64 text), errors left to botocore."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from botocore.parsers import create_parser

from pipeline import ledger
from pipeline.aggregate import Claim
from pipeline.aws_stores import DynamoAggregateStore, FoldedDynamoAggregateStore, LedgerDynamoAggregateStore
from pipeline.fraud.dynamo_items import StoredState, decode, item_key, put_request
from pipeline.fraud.state import WindowKey, position
from pipeline.prepared_requests import PreparedClient, decode_success, prepare

TOKEN = "4c1c9b0e-7b3c-4d51-9d4a-1f0e2b3c4d5e"


def _client(validating: bool = True, service: str = "dynamodb") -> Any:
    config = boto3.session.Config(parameter_validation=validating)
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        endpoint_url="http://127.0.0.1:9",  # never reached: the capture below answers first
        config=config,
    )


def _sent_body(client: Any, operation: str, **params: Any) -> dict[str, Any]:
    """The JSON body `client` would send for `operation`, captured after every other before-call handler."""
    sent: dict[str, Any] = {}

    def capture(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        sent["body"] = json.loads(params["body"])
        return SimpleNamespace(status_code=200, headers={}), {}

    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register_last(f"before-call.{service}.{operation}", capture)
    getattr(client, operation_method(operation))(**params)
    return sent["body"]


def operation_method(operation: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")


def _state() -> StoredState:
    return StoredState(
        {"r.calls": 3, "60@60000/r.calls": 2},
        {"r.b": {"0a1b2c3d", "ffeeddcc"}},
        {"shard-0/ab": position(10**20 + 7)},
        version=2,
    )


def _puts() -> list[dict[str, Any]]:
    return [
        {"Put": {"TableName": "t", **put_request(WindowKey(f"tok{i}", 900, 0), _state(), 2_000_000_000)}}
        for i in range(3)
    ]


def test_a_transaction_is_sent_as_botocores_serializer_would_send_it() -> None:
    # Given the same transaction of conditional puts with binary state, through both paths
    prepared = _client()
    assert prepare(prepared)

    # When each is sent (with the same idempotency token: botocore draws a new one per call otherwise)
    fast = _sent_body(prepared, "TransactWriteItems", TransactItems=_puts(), ClientRequestToken=TOKEN)
    slow = _sent_body(_client(), "TransactWriteItems", TransactItems=_puts(), ClientRequestToken=TOKEN)

    # Then the bodies are the same JSON, binary values as base64 text
    assert fast == slow
    blob = fast["TransactItems"][0]["Put"]["Item"]["st"]["B"]
    assert decode({"st": {"B": base64.b64decode(blob)}, "v": {"N": "2"}}) == _state()


def test_a_transaction_gets_botocores_idempotency_token() -> None:
    prepared = _client(validating=False)
    prepare(prepared)

    body = _sent_body(prepared, "TransactWriteItems", TransactItems=_puts())

    assert len(body["ClientRequestToken"]) == 36


def test_a_batch_read_is_sent_as_botocores_serializer_would_send_it() -> None:
    prepared = _client()
    prepare(prepared)
    request = {"t": {"Keys": [item_key(WindowKey("tok", 900, 0))], "ConsistentRead": True}}

    fast = _sent_body(prepared, "BatchGetItem", RequestItems=request)
    slow = _sent_body(_client(), "BatchGetItem", RequestItems=request)

    assert fast == slow == {"RequestItems": request}


def test_a_validating_client_still_refuses_bad_parameters() -> None:
    prepared = _client()
    prepare(prepared)

    with pytest.raises(ParamValidationError, match="TransactItems"):
        prepared.transact_write_items(TransactItems=[{"Put": {"TableName": "t"}}])


def test_a_client_that_does_not_validate_is_not_validated_on_the_prepared_path_either() -> None:
    # Given a client built as the handler builds its clients (parameter_validation=False)
    prepared = _client(validating=False)
    prepare(prepared)

    # When it sends what a validating client refuses, then it is sent, as botocore itself would send it
    body = _sent_body(prepared, "TransactWriteItems", TransactItems=[{"Put": {"TableName": "t"}}])

    assert body["TransactItems"] == [{"Put": {"TableName": "t"}}]


def test_a_successful_batch_read_is_decoded_with_binary_values_as_base64_text() -> None:
    # Given BatchGetItem's answer holding one stored state
    item = put_request(WindowKey("tok", 900, 0), _state(), 2_000_000_000)["Item"]
    wire_item = {**item, "st": {"B": base64.b64encode(item["st"]["B"]).decode()}}
    response = {
        "status_code": 200,
        "headers": {},
        "body": json.dumps({"Responses": {"t": [wire_item]}}).encode(),
    }
    customized: dict[str, Any] = {}

    # When the prepared path decodes it
    decode_success(response_dict=response, customized_response_dict=customized)

    # Then botocore parses an empty object and the answer is the decoded body, which the reader accepts
    assert response["body"] == b"{}"
    assert decode(customized["Responses"]["t"][0]) == _state()


def test_an_error_answer_is_left_to_botocore() -> None:
    body = b'{"__type": "ProvisionedThroughputExceededException", "message": "slow down"}'
    response = {"status_code": 400, "headers": {}, "body": body}
    customized: dict[str, Any] = {}

    decode_success(response_dict=response, customized_response_dict=customized)

    assert (response["body"], customized) == (body, {})


def test_anything_but_a_dynamodb_or_kinesis_client_is_left_alone() -> None:
    assert not prepare(object())
    assert not prepare(_client(service="sqs"))


def _aggregate_transactions() -> dict[str, list[dict[str, Any]]]:
    """One transaction of each exactly-once design, as the aggregate store builds it."""
    key = ("cell#310-260-1-1", "m#2026-11-18T13:00Z")
    claims = [Claim("a", "shardId-0/1/", key, 1_000), Claim("b", "shardId-0/2/", key, 1_000)]
    deltas, expires = {key: [2, 1, 1, 60, 55, 0, 0]}, {key: 2_000_000_000}
    ledger_store = LedgerDynamoAggregateStore("t", None)
    units = {ledger.unit_id(claim.position): ledger.cdr_digest(claim.cdr_id) for claim in claims}
    return {
        "per_record": DynamoAggregateStore("t", None)._transaction(claims, deltas, expires),
        "folded": FoldedDynamoAggregateStore("t", None)._transaction(claims, deltas, expires),
        "ledger": [
            ledger_store._claims_put(key, ledger.ClaimSet(1, units, 0, 2_000_000_000)),
            ledger_store._claims_put(key, ledger.ClaimSet(4, units, 0, 2_000_000_000)),
            ledger_store._put(
                ("delta#x", "d"), {ledger.DELTA_ATTRIBUTE: {"B": ledger.encode_delta(deltas)}}, "x", {}
            ),
        ],
    }


@pytest.mark.parametrize("design", ["per_record", "folded", "ledger"])
def test_an_aggregate_transaction_is_sent_as_botocores_serializer_would_send_it(design: str) -> None:
    # Given the aggregate store's transaction of each design, through both paths, as the handler sends it
    prepared = _client(validating=False)
    assert prepare(prepared)
    items = _aggregate_transactions()[design]
    params = {"TransactItems": items, "ClientRequestToken": TOKEN, "ReturnConsumedCapacity": "TOTAL"}

    # When each is sent
    fast = _sent_body(prepared, "TransactWriteItems", **params)
    slow = _sent_body(_client(validating=False), "TransactWriteItems", **params)

    # Then the bodies are the same JSON
    assert fast == slow and len(fast["TransactItems"]) == len(items)


def test_a_client_prepared_twice_sends_the_same_body() -> None:
    # Given a client behind two stores, each installing the prepared path
    prepared = _client(validating=False)
    assert prepare(prepared) and prepare(prepared)

    # When a transaction is sent, then it is encoded once: the real items, not the stub
    body = _sent_body(prepared, "TransactWriteItems", TransactItems=_puts(), ClientRequestToken=TOKEN)
    assert body == _sent_body(
        _client(), "TransactWriteItems", TransactItems=_puts(), ClientRequestToken=TOKEN
    )


def test_a_prepared_client_is_installed_on_first_use_only() -> None:
    # Given a client wrapped for the prepared path
    built = _client(validating=False)
    wrapped = PreparedClient(built)
    assert wrapped.unprepared is built and not prepare_marked(built)

    # When the store first uses it, then the path is installed, and the requests go through the client
    assert wrapped.meta is built.meta and prepare_marked(built)


def prepare_marked(client: Any) -> bool:
    return bool(getattr(client.meta, "_cdrcap_prepared", False))


def _records() -> list[dict[str, Any]]:
    return [{"PartitionKey": f"sub-{i}", "Data": bytes(range(i % 256)) * 3} for i in range(500)]


def test_put_records_is_sent_as_botocores_serializer_would_send_it() -> None:
    # Given the output stream's 500 records (binary data), through both paths, as the handler sends them
    prepared = _client(validating=False, service="kinesis")
    assert prepare(prepared)

    # When each is sent
    fast = _sent_body(prepared, "PutRecords", StreamName="cdr-out", Records=_records())
    slow = _sent_body(
        _client(validating=False, service="kinesis"), "PutRecords", StreamName="cdr-out", Records=_records()
    )

    # Then the bodies are the same JSON, data as base64 text
    assert fast == slow and base64.b64decode(fast["Records"][7]["Data"]) == _records()[7]["Data"]


def test_a_put_records_answer_is_what_botocores_parser_makes_of_it() -> None:
    # Given PutRecords' answer with one record accepted and one throttled
    answer = {
        "FailedRecordCount": 1,
        "Records": [
            {
                "SequenceNumber": "49590338271490256608559692538361571095921575989136588898",
                "ShardId": "shardId-000000000000",
            },
            {
                "ErrorCode": "ProvisionedThroughputExceededException",
                "ErrorMessage": "Rate exceeded for shard",
            },
        ],
        "EncryptionType": "KMS",
    }
    body = json.dumps(answer).encode()
    output_shape = _client(service="kinesis").meta.service_model.operation_model("PutRecords").output_shape
    parser = create_parser("json")
    response = {"status_code": 200, "headers": {}, "body": body}
    customized: dict[str, Any] = {}

    # When the prepared path decodes it (botocore then parses what is left and adds the decoded part)
    decode_success(response_dict=response, customized_response_dict=customized)
    parsed = parser.parse(response, output_shape)
    parsed.update(customized)

    # Then the store sees what botocore's parser alone makes of the body
    assert parsed == parser.parse({"status_code": 200, "headers": {}, "body": body}, output_shape)
