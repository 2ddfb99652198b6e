"""The emulator patch that adds BatchGetItem's ConsumedCapacity (infra/local/ministack_fastpaths.py): the
charge DynamoDB documents, in the same 4 KB unit as capacity/quotas.py."""

from __future__ import annotations

import pytest

from capacity import quotas
from infra.local import ministack_fastpaths as fastpaths


def test_the_patch_reads_in_the_documented_unit() -> None:
    # The patch runs in the emulator's interpreter and cannot import quotas.py: its copy must stay equal
    assert fastpaths.READ_UNIT_BYTES == quotas.DDB_READ_UNIT_BYTES


@pytest.mark.parametrize(
    ("item_bytes", "consistent", "units"),
    [(0, True, 1.0), (0, False, 0.5), (3_500, True, 1.0), (4_096, True, 1.0), (4_097, True, 2.0),
     (10_240, False, 1.5)],
)  # fmt: skip
def test_each_key_is_read_as_a_get_item_rounded_up_to_4_kb(
    item_bytes: int, consistent: bool, units: float
) -> None:
    assert fastpaths.read_units(item_bytes, {"ConsistentRead": consistent}) == units


def test_consumed_capacity_only_when_asked_and_per_table() -> None:
    answer = {"Responses": {}, "UnprocessedKeys": {}}
    units = {"a": 3.0, "b": 0.5}
    assert fastpaths.with_capacity(answer, {}, units) == answer
    assert fastpaths.with_capacity(answer, {"ReturnConsumedCapacity": "NONE"}, units) == answer
    total = fastpaths.with_capacity(answer, {"ReturnConsumedCapacity": "TOTAL"}, units)["ConsumedCapacity"]
    assert total == [{"TableName": "a", "CapacityUnits": 3.0}, {"TableName": "b", "CapacityUnits": 0.5}]
    indexes = fastpaths.with_capacity(answer, {"ReturnConsumedCapacity": "INDEXES"}, units)[
        "ConsumedCapacity"
    ]
    assert indexes[0]["Table"] == {"CapacityUnits": 3.0}
