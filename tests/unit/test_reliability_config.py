"""Configuration errors stop the handler at cold start, before any record is touched, naming the fix."""

import pytest

from pipeline import constants as c
from pipeline import handler as handler_module
from pipeline.errors import ConfigError
from tests.support.pipeline_events import PIPELINE_ENV, as_json, kinesis_event, make_cdr

GOOD_ENV = PIPELINE_ENV
BAD_ENV = [
    ({c.ENV_AGGREGATES_TABLE: ""}, c.ENV_AGGREGATES_TABLE, "set it to"),
    ({c.ENV_HOME_REGION: "XX"}, c.ENV_HOME_REGION, "alpha-2"),
    ({c.ENV_MAX_RECORD_BYTES: "64k"}, c.ENV_MAX_RECORD_BYTES, "whole number"),
    ({c.ENV_AGGREGATE_TTL_S: "-1"}, c.ENV_AGGREGATE_TTL_S, "must be positive"),
    ({c.ENV_LOG_LEVEL: "LOUD"}, c.ENV_LOG_LEVEL, "INFO"),
]


@pytest.fixture(autouse=True)
def cold_start() -> None:
    handler_module._processor = None


@pytest.mark.parametrize(("override", "named", "fix"), BAD_ENV, ids=[b[1] for b in BAD_ENV])
def test_a_bad_variable_fails_the_first_invocation_naming_variable_and_fix(
    monkeypatch: pytest.MonkeyPatch, override: dict[str, str], named: str, fix: str
) -> None:
    # Given a cold container whose environment has one bad variable
    for name, value in {**GOOD_ENV, **override}.items():
        monkeypatch.setenv(name, value)
    # When the first batch arrives, Then the handler refuses it with a message naming the variable and the fix
    with pytest.raises(ConfigError) as raised:
        handler_module.handler(kinesis_event([as_json(make_cdr(1))]), None)
    assert named in str(raised.value) and fix in str(raised.value)
    # And no processor was built, so a later (fixed) cold start starts clean
    assert handler_module._processor is None
