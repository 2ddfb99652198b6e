"""A missing aggregates table is reported on first use, naming the variable, before anything is emitted."""

import pytest

from pipeline import constants as c
from pipeline import handler as handler_module
from pipeline.errors import ConfigError
from tests.support.emulator_pipeline import Pipeline
from tests.support.pipeline_events import as_json, kinesis_event, make_cdr


def test_missing_table_fails_the_batch_with_the_fix_and_emits_nothing(pipeline: Pipeline) -> None:
    # Given a deployed pipeline whose aggregates table has been deleted
    pipeline.dynamodb.delete_table(TableName=pipeline.table)
    # When a batch with a good and a bad record arrives
    event = kinesis_event([as_json(make_cdr(1)), b"{"])
    # Then the invocation fails (Lambda re-delivers the whole batch once fixed) naming the variable and fix
    with pytest.raises(ConfigError) as raised:
        handler_module.handler(event, None)
    assert c.ENV_AGGREGATES_TABLE in str(raised.value) and "AggregatesTableName" in str(raised.value)
    # And no side effect happened: nothing on the output stream, nothing in the DLQ
    assert pipeline.output_records() == []
    assert pipeline.dlq_messages(expected=1, deadline_s=0.5) == []
