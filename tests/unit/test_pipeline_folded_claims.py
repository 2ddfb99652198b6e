"""CDRCAP_EXACTLY_ONCE=folded: claims kept as attributes of the A-number minute item (docs/pipeline.md).

The re-delivery property tests (whole batch, suffix, bisect, PF lanes) run for both designs in
test_pipeline_processor.py and test_reliability_faults.py; these are the hazards of this design only.
"""

from typing import Any

import pytest

from pipeline import aws_stores
from pipeline.aggregate import FOLDED_CLAIM_PREFIX, Claim, folded_claim
from pipeline.aws_stores import FoldedDynamoAggregateStore
from pipeline.config import load_config
from pipeline.errors import ConfigError
from pipeline.processor import BatchProcessor
from pipeline.schema import ReasonCode
from pipeline.stores import InMemoryAggregateStore, in_memory_stores
from tests.support.fakes import FakeDynamo, cancelled
from tests.support.pipeline_events import NOW_MS, PIPELINE_ENV, as_json, kinesis_event, make_cdr

CONFIG = load_config({**PIPELINE_ENV, "CDRCAP_EXACTLY_ONCE": "folded"})
ANUM = ("anum#+12015550001", "m#2026-11-18T13:00Z")
CELL = ("cell#310-260-1001-11", "m#2026-11-18T13:00Z")
VECTOR = [1, 1, 1, 60, 55, 0, 0]


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws_stores, "_backoff", lambda attempt: None)


def test_the_design_is_chosen_by_env_and_a_bad_value_names_variable_and_choices() -> None:
    assert load_config(PIPELINE_ENV).exactly_once == "per_record"
    assert CONFIG.exactly_once == "folded"
    with pytest.raises(ConfigError, match=r"CDRCAP_EXACTLY_ONCE='runs'.*per_record, folded or ledger"):
        load_config({**PIPELINE_ENV, "CDRCAP_EXACTLY_ONCE": "runs"})


def test_claims_ride_on_their_a_number_item_with_one_condition_per_claim() -> None:
    # Given two CDRs of one subscriber-minute and their cell item
    dynamo = FakeDynamo([{"ConsumedCapacity": [{"WriteCapacityUnits": 4.0}]}])
    claims = [Claim("a", "s/1/", ANUM), Claim("b", "s/2/", ANUM)]
    # When applied
    result = FoldedDynamoAggregateStore("table", dynamo).apply(
        claims, {CELL: VECTOR, ANUM: VECTOR}, {CELL: 99, ANUM: 99}
    )
    # Then the transaction holds two updates and no claim item; the A-number update sets both claims
    items = dynamo.calls[0]["TransactItems"]
    assert result.committed and result.write_units == 4 and [list(i) for i in items] == [["Update"]] * 2
    cell, anum = items[0]["Update"], items[1]["Update"]
    assert "ConditionExpression" not in cell
    assert anum["ConditionExpression"] == "attribute_not_exists(#k0) AND attribute_not_exists(#k1)"
    name, value = folded_claim(claims[1])
    assert anum["ExpressionAttributeNames"]["#k1"] == name and name.startswith(FOLDED_CLAIM_PREFIX)
    assert anum["ExpressionAttributeValues"][":k1"] == {"S": value}
    assert anum["UpdateExpression"].endswith("#k0 = :k0, #k1 = :k1")


def test_a_failed_a_number_item_reports_every_claim_it_holds() -> None:
    dynamo = FakeDynamo([cancelled("None", "ConditionalCheckFailed")])
    claims = [Claim("x", "s/0/", ("anum#other", ANUM[1])), Claim("a", "s/1/", ANUM), Claim("b", "s/2/", ANUM)]
    deltas = {("anum#other", ANUM[1]): VECTOR, ANUM: VECTOR}
    result = FoldedDynamoAggregateStore("table", dynamo).apply(claims, deltas, dict.fromkeys(deltas, 9))
    assert not result.committed and result.conflicting_claims == (1, 2)


class ReadingDynamo(FakeDynamo):
    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__([])
        self.item = item

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        assert RequestItems["table"]["ConsistentRead"] is True
        return {"Responses": {"table": [self.item]}}


def test_owners_tell_a_replay_from_a_source_duplicate_and_an_absent_claim() -> None:
    # Given the A-number item holding claim "a" by position s/1/ and claim "b" by another position
    mine, other, absent = Claim("a", "s/1/", ANUM), Claim("b", "s/2/", ANUM), Claim("c", "s/3/", ANUM)
    item = {"pk": {"S": ANUM[0]}, "sk": {"S": ANUM[1]}}
    item[folded_claim(mine)[0]] = {"S": folded_claim(mine)[1]}
    item[folded_claim(other)[0]] = {"S": folded_claim(Claim("b", "s/9/"))[1]}
    owners = FoldedDynamoAggregateStore("table", ReadingDynamo(item)).claim_owners([mine, other, absent])
    # Then "a" is owned by its own position (replay), "b" by another one (duplicate), "c" by none
    assert owners["a"] == "s/1/" and owners["b"].startswith("another record") and "c" not in owners


def test_a_partially_claimed_item_applies_only_the_new_records_on_redelivery() -> None:
    # Given one CDR of a subscriber-minute applied, then a batch with it and a new CDR of the same minute
    stores = in_memory_stores("folded")
    processor = BatchProcessor(CONFIG, stores)
    first = as_json(make_cdr(1))
    processor.process(kinesis_event([first], first_seq=0), now_ms=NOW_MS)
    second = as_json(make_cdr(10_001))  # same A-number (i % 10000), same minute, another cdr_id
    # When the re-delivery brings both (one transaction: the A-number item's condition fails once)
    outcome = processor.process(kinesis_event([first, second], first_seq=0), now_ms=NOW_MS)
    # Then the old one is a replay, the new one applied, and the item counts two records
    assert (outcome.replayed, outcome.applied) == (1, 1)
    store = stores.aggregates
    assert isinstance(store, InMemoryAggregateStore)
    anum = [v for k, v in store.snapshot().items() if k[0].startswith("anum#")]
    assert [item["records"] for item in anum] == [2]


def test_what_folded_gives_up_a_reused_cdr_id_on_another_subscriber_is_not_a_duplicate() -> None:
    # Given a cdr_id already counted for one A-number
    outcomes = {}
    for design in ("per_record", "folded"):
        processor = BatchProcessor(
            load_config({**PIPELINE_ENV, "CDRCAP_EXACTLY_ONCE": design}), in_memory_stores(design)
        )
        processor.process(kinesis_event([as_json(make_cdr(1))], first_seq=0), now_ms=NOW_MS)
        # When another Kinesis record carries the same cdr_id for another subscriber
        reused = as_json(make_cdr(1, calling_number="+12015550002"))
        outcomes[design] = processor.process(kinesis_event([reused], first_seq=5), now_ms=NOW_MS)
    # Then per_record rejects it as a duplicate; folded (claims per A-number minute) counts it
    assert dict(outcomes["per_record"].rejected) == {ReasonCode.DUPLICATE_CDR.value: 1}
    assert outcomes["folded"].applied == 1


def test_write_units_grow_with_the_claims_an_item_holds() -> None:
    # Given a flooding subscriber: 60 CDRs in one minute, one batch
    stores = in_memory_stores("folded")
    payloads = [as_json(make_cdr(i * 10_000 + 1)) for i in range(60)]
    outcome = BatchProcessor(CONFIG, stores).process(kinesis_event(payloads), now_ms=NOW_MS)
    # Then its A-number item (60 claims of 26 bytes) costs more than one KB in the transaction
    assert outcome.applied == 60
    assert outcome.dynamo_write_units > 2 * outcome.dynamo_writes
