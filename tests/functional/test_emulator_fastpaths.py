"""The emulator's TransactWriteItems fast path (infra/local/ministack_fastpaths.py) against MiniStack as
shipped: the same requests give the same answers and leave the same items."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.local.emulator import ENV_FASTPATHS, EmulatorProcess, start_emulator

Requests = list[Callable[[Any], Any]]
TABLE, INDEXED = "fast", "indexed"
BIG = "x" * 410_000  # over the 400 KB item cap
NEAR = "y" * 390_000  # under it: 11 of them pass the 4 MiB transaction cap


@pytest.fixture
def shipped_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorProcess]:
    """MiniStack exactly as shipped, next to the session's patched one."""
    monkeypatch.setenv(ENV_FASTPATHS, "0")
    process = start_emulator(log_dir=tmp_path)
    try:
        yield process
    finally:
        process.stop()


def _update(sk: str, expression: str, values: dict[str, Any], condition: str | None = None) -> dict[str, Any]:
    update: dict[str, Any] = {
        "TableName": TABLE,
        "Key": {"pk": {"S": "p"}, "sk": {"S": sk}},
        "UpdateExpression": expression,
        "ExpressionAttributeValues": values,
    }
    if condition:
        update["ConditionExpression"] = condition
    return {"Update": update}


def _transact(*actions: dict[str, Any], token: str | None = None) -> Callable[[Any], Any]:
    extra = {"ClientRequestToken": token} if token else {}
    return lambda ddb: ddb.transact_write_items(
        TransactItems=list(actions), ReturnConsumedCapacity="TOTAL", **extra
    )


def _requests() -> Requests:
    first = _transact(
        _update(
            "a",
            "SET w = :w, t = :t ADD c :one, s :s",
            {
                ":w": {"S": "001"},
                ":t": {"N": "10"},
                ":one": {"N": "1"},
                ":s": {"SS": ["m1", "m2"]},
                ":lo": {"S": "001"},
            },
            "attribute_not_exists(w) OR w < :lo",
        ),
        _update("b", "ADD c :one", {":one": {"N": "1"}}),
        token="token-1",
    )
    return [
        first,
        first,  # the same token and body: answered from the stored result, nothing applied again
        _transact(  # existing items: SET reads the item before the update, ADD grows a set and a counter
            _update(
                "a",
                "SET old_t = t, t = :t ADD c :two, s :s",
                {
                    ":t": {"N": "20"},
                    ":two": {"N": "2"},
                    ":s": {"SS": ["m2", "m3"]},
                    ":k": {"N": "128"},
                },
                "size(s) < :k",
            ),
            _update("new", "SET v = :v", {":v": {"L": [{"S": "x"}, {"M": {"n": {"N": "1"}}}]}}),
            {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "p"}, "sk": {"S": "put"}, "v": {"N": "1"}}}},
            {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "p"}, "sk": {"S": "b"}}}},
            {
                "ConditionCheck": {
                    "TableName": TABLE,
                    "Key": {"pk": {"S": "p"}, "sk": {"S": "gone"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ),
        _transact(  # one condition fails: nothing is written, every item has a reason
            _update("a", "ADD c :one", {":one": {"N": "1"}}),
            _update("new", "ADD c :one", {":one": {"N": "1"}, ":no": {"S": "zzz"}}, "v = :no"),
        ),
        _transact(  # a type error in one update: a ValidationError cancellation
            _update("a", "ADD c :one", {":one": {"N": "1"}}),
            _update("new", "ADD v :one", {":one": {"N": "1"}}),
        ),
        _transact(_update("a", "SET big = :big", {":big": {"S": BIG}})),  # over the item cap
        _transact(  # one item twice
            _update("a", "ADD c :one", {":one": {"N": "1"}}), _update("a", "ADD d :one", {":one": {"N": "1"}})
        ),
        lambda ddb: ddb.transact_write_items(  # a table with an index: the empty index key is refused
            TransactItems=[
                {
                    "Update": {
                        "TableName": INDEXED,
                        "Key": {"pk": {"S": "p"}, "sk": {"S": "a"}},
                        "UpdateExpression": "SET g = :g",
                        "ExpressionAttributeValues": {":g": {"S": ""}},
                    }
                }
            ]
        ),
        _transact(  # over the 4 MB request cap (each item under 400 KB)
            *[
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": {"pk": {"S": "p"}, "sk": {"S": f"big{i}"}, "v": {"S": NEAR}},
                    }
                }
                for i in range(11)
            ]
        ),
        _transact(_update("a", "ADD c :one", {":one": {"N": "1"}})),  # committed after all that
    ]


def _create_tables(ddb: Any) -> None:
    keys = {
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    attributes = [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    ddb.create_table(TableName=TABLE, AttributeDefinitions=attributes, **keys)
    ddb.create_table(
        TableName=INDEXED,
        AttributeDefinitions=[*attributes, {"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        **keys,
    )


def _outcomes(emulator: EmulatorProcess, session: boto3.Session) -> tuple[list[Any], list[Any]]:
    """Each request's answer (response or error code, message and reasons), then every item left."""
    ddb = session.client("dynamodb", endpoint_url=emulator.endpoint_url)
    _create_tables(ddb)
    answers: list[Any] = []
    for request in _requests():
        try:
            response = request(ddb)
            response.pop("ResponseMetadata", None)
            answers.append(response)
        except ClientError as error:
            body = error.response
            answers.append(
                (body["Error"]["Code"], body["Error"].get("Message"), body.get("CancellationReasons"))
            )
    items = [
        sorted(ddb.scan(TableName=table)["Items"], key=lambda item: item["sk"]["S"])
        for table in (TABLE, INDEXED)
    ]
    return answers, items


def test_patched_transact_write_items_answers_and_writes_as_shipped(
    clean_emulator: EmulatorProcess, shipped_emulator: EmulatorProcess, aws_session: boto3.Session
) -> None:
    # Given the same requests: commits, a token replay, a failed condition, a type error, an oversized item,
    # one item twice, an index key, a request over 4 MB, on the patched emulator and on MiniStack as shipped
    patched = _outcomes(clean_emulator, aws_session)
    shipped = _outcomes(shipped_emulator, aws_session)
    # Then every answer and every item left is the same
    assert patched[0] == shipped[0]
    assert patched[1] == shipped[1]
    # And the requests did exercise each path (commits, cancellations, refusals)
    codes = [answer[0] if isinstance(answer, tuple) else "ok" for answer in patched[0]]
    assert codes.count("ok") == 4
    assert codes.count("TransactionCanceledException") == 3
    assert codes.count("ValidationException") == 3
    assert any("4MB" in str(answer[1]) for answer in patched[0] if isinstance(answer, tuple))
    item_a = next(item for item in patched[1][0] if item["sk"]["S"] == "a")
    assert item_a["c"] == {"N": "4"} and item_a["old_t"] == {"N": "10"} and item_a["t"] == {"N": "20"}


def test_batch_get_item_reports_its_read_units(dynamodb: Any) -> None:
    # Given a 5 KB item and a small one, read with one missing key, strongly and then eventually consistent
    table = "batch-get-capacity"
    _create_table(dynamodb, table)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "p"}, "sk": {"S": "big"}, "v": {"S": "z" * 5_000}})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "p"}, "sk": {"S": "small"}})
    keys = [{"pk": {"S": "p"}, "sk": {"S": sk}} for sk in ("big", "small", "missing")]

    def consumed(consistent: bool) -> Any:
        answer = dynamodb.batch_get_item(
            RequestItems={table: {"Keys": keys, "ConsistentRead": consistent}}, ReturnConsumedCapacity="TOTAL"
        )
        assert len(answer["Responses"][table]) == 2
        return answer["ConsumedCapacity"]

    # Then the patched emulator charges each key as DynamoDB does: 2 + 1 + 1 units, halved when eventual
    assert consumed(True) == [{"TableName": table, "CapacityUnits": 4.0}]
    assert consumed(False) == [{"TableName": table, "CapacityUnits": 2.0}]
    assert "ConsumedCapacity" not in dynamodb.batch_get_item(RequestItems={table: {"Keys": keys}})


def _create_table(ddb: Any, name: str) -> None:
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
