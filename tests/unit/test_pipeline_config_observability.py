import io

import orjson
import pytest

from pipeline import constants as c
from pipeline import handler as handler_module
from pipeline.config import ConfigError, load_config
from pipeline.observability import JsonLogger, emf_line, mask, quantile_sample, scrub
from pipeline.stores import in_memory_stores
from tests.support.pipeline_events import PIPELINE_ENV, as_json, kinesis_event, make_cdr

ENV = PIPELINE_ENV


def test_config_defaults() -> None:
    config = load_config(ENV)
    assert config.home_region == "US" and config.metrics_namespace == "cdrcap"


def test_missing_variable_is_named_with_the_fix() -> None:
    env = {k: v for k, v in ENV.items() if k != c.ENV_DLQ_URL}
    with pytest.raises(
        ConfigError, match=f"{c.ENV_DLQ_URL} is not set: set it to the dead-letter SQS queue URL"
    ):
        load_config(env)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (c.ENV_HOME_REGION, "XX", "not a numbering-plan region"),
        (c.ENV_AGGREGATE_TTL_S, "week", "is not an integer"),
        (c.ENV_MAX_RECORD_BYTES, "0", "must be positive"),
        (c.ENV_LOG_LEVEL, "LOUD", "is not one of"),
    ],
)
def test_bad_values_are_named(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"{name}.*{message}"):
        load_config({**ENV, name: value})


def test_mask_keeps_only_the_edges() -> None:
    assert mask("+14155552671") == "+14*******71"
    assert mask("1234") == "****"


def test_scrub_masks_identifiers_in_free_text() -> None:
    text = scrub("imsi 310260000000001 called +14155552671 at cell 42")
    assert "310260000000001" not in text and "4155552671" not in text and "cell 42" in text


def test_logger_masks_pii_fields() -> None:
    out = io.StringIO()
    JsonLogger("INFO", out).log("INFO", "reject", a_number="+14155552671", imei="352099001761481", reason="X")
    line = orjson.loads(out.getvalue())
    assert line["a_number"] == "+14*******71" and line["imei"].startswith("352") and "*" in line["imei"]


def test_quantile_sample_keeps_extremes_within_the_emf_limit() -> None:
    sample = quantile_sample(list(range(1000)))
    assert len(sample) == 100 and sample[0] == 0 and sample[-1] == 999


def test_emf_line_declares_every_metric() -> None:
    doc = orjson.loads(emf_line("cdrcap", {"RecordsIn": 3, "ProcessingMs": 1.5}, [10, 20], 1000))
    names = {m["Name"]: m["Unit"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {
        "RecordsIn": "Count",
        "ProcessingMs": "Milliseconds",
        "EndToEndLatencyMs": "Milliseconds",
    }
    assert doc["EndToEndLatencyMs"] == [10, 20]


def test_handler_prints_one_emf_line_with_reject_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    # The fixture CDRs are dated 2026-11-18: allow them whatever day the test runs.
    handler_module.configure(load_config({**ENV, c.ENV_MAX_RECORD_AGE_DAYS: "3650"}), in_memory_stores())
    try:
        response = handler_module.handler(kinesis_event([as_json(make_cdr(1)), b"junk"]), None)
    finally:
        handler_module._processor = None
    lines = capsys.readouterr().out.splitlines()
    emf = orjson.loads(lines[0])
    assert response == {"batchItemFailures": []}
    assert (
        emf["RecordsIn"] == 2
        and emf["RecordsRejected"] == 1
        and emf["RecordsRejected_MALFORMED_PAYLOAD"] == 1
    )
    assert orjson.loads(lines[1])["message"] == "batch processed"
