"""The aggregate store's prepared request path (pipeline/prepared_requests.py) against the emulator: what a
store learns from DynamoDB (cancellation reasons, consumed units, claim owners, a missing table) is the same
as through botocore's own serializer and parser."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from infra.local.emulator import EmulatorProcess
from pipeline.aggregate import Claim
from pipeline.aws_stores import DynamoAggregateStore, LedgerDynamoAggregateStore, build_client
from pipeline.errors import ConfigError
from pipeline.metering import METER
from pipeline.prepared_requests import ENCODED_BODY
from tests.support.emulator_pipeline import create_table

KEY = ("cell#310-260-1-1", "m#2026-11-18T13:00Z")
DELTAS = {KEY: [2, 1, 1, 60, 55, 0, 0]}
EXPIRES = {KEY: 2_000_000_000}


@pytest.fixture
def handler_clients(emulator: EmulatorProcess, aws_session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The handler's clients (build_client: metered, not validating) pointed at the emulator."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)


def prepared_and_plain(table: str) -> tuple[DynamoAggregateStore, DynamoAggregateStore, list[bool]]:
    """Two stores on `table`: the handler's (prepared path) and one on botocore's own path; and the list
    of whether each of the first one's requests went out with the prepared body."""
    prepared = DynamoAggregateStore(table, build_client("dynamodb"))
    plain = DynamoAggregateStore(table, None)
    plain.dynamodb = build_client("dynamodb")  # the bare client: botocore serializes and parses
    sent_prepared: list[bool] = []
    prepared.dynamodb.meta.events.register(
        "before-call.dynamodb", lambda context, **_: sent_prepared.append(ENCODED_BODY in context)
    )
    return prepared, plain, sent_prepared


@pytest.mark.usefixtures("handler_clients")
def test_a_cancelled_transaction_names_the_same_reasons_through_either_path(dynamodb: Any) -> None:
    # Given claims a and b committed
    prepared, plain, sent_prepared = prepared_and_plain(create_table(dynamodb))
    assert prepared.apply([Claim("a", "s/1/"), Claim("b", "s/2/")], DELTAS, EXPIRES).committed
    # When a transaction claiming c and b again is sent through each path
    again = [Claim("c", "s/3/"), Claim("b", "s/2/")]
    items = prepared._transaction(again, DELTAS, EXPIRES)
    errors = []
    for store in (prepared, plain):
        with pytest.raises(ClientError) as raised:
            store.dynamodb.transact_write_items(TransactItems=items)
        errors.append(raised.value.response)
    # Then both are cancelled with the same code and the same reasons, item by item
    assert [e["Error"]["Code"] for e in errors] == ["TransactionCanceledException"] * 2
    assert errors[0]["CancellationReasons"] == errors[1]["CancellationReasons"]
    assert [r["Code"] for r in errors[0]["CancellationReasons"]] == ["None", "ConditionalCheckFailed", "None"]
    # And both stores report claim b (index 1) as the conflict, owned by its first position
    assert prepared.apply(again, DELTAS, EXPIRES) == plain.apply(again, DELTAS, EXPIRES)
    assert prepared.apply(again, DELTAS, EXPIRES).conflicting_claims == (1,)
    assert prepared.claim_owners(again) == plain.claim_owners(again) == {"b": "s/2/"}
    assert sent_prepared and all(sent_prepared)


@pytest.mark.usefixtures("handler_clients")
def test_the_meter_counts_the_same_units_through_either_path(dynamodb: Any) -> None:
    # Given the same shape of transaction (two new claims, one aggregate item) for each path
    prepared, plain, sent_prepared = prepared_and_plain(create_table(dynamodb))
    metered = []
    for store, ids in ((prepared, ("a", "b")), (plain, ("c", "d"))):
        claims = [Claim(ids[0], f"s/{ids[0]}/"), Claim(ids[1], f"s/{ids[1]}/")]
        METER.take()
        # When each store commits it and reads its claims back (BatchGetItem)
        result = store.apply(claims, DELTAS, EXPIRES)
        owners = store.claim_owners(claims)
        metered.append((result.write_units, owners, METER.take()))
    # Then the transaction's write units and the read's read units are metered alike, none unmetered
    (fast_units, fast_owners, fast), (slow_units, slow_owners, slow) = metered
    assert fast_units == slow_units > 0
    assert len(fast_owners) == len(slow_owners) == 2
    for name in ("AwsDynamoDBRequests", "AwsDynamoDBWriteUnits", "AwsDynamoDBReadUnits"):
        assert fast[name] == slow[name] > 0, name
    assert fast["AwsDynamoDBUnmeteredRequests"] == slow["AwsDynamoDBUnmeteredRequests"] == 0
    assert sent_prepared and all(sent_prepared)


@pytest.mark.usefixtures("handler_clients")
@pytest.mark.parametrize("design", [DynamoAggregateStore, LedgerDynamoAggregateStore])
def test_a_missing_table_is_still_a_config_error_through_the_prepared_path(
    design: type[DynamoAggregateStore],
) -> None:
    # Given the handler's store on a table that does not exist
    store = design("no-such-table", build_client("dynamodb"))
    claims = [Claim("a", "shardId-0/1/", ("", ""), 1_000)]
    # When it applies a chunk (the ledger reads its claims first: BatchGetItem), then the error names it
    with pytest.raises(ConfigError, match="'no-such-table' names no DynamoDB table"):
        store.apply(claims, DELTAS, EXPIRES)
