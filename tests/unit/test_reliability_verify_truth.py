"""Which truth `cdrcap verify` holds a run to: the saved file, the stream as the handler saw it (asked, or
under ledger), or the load generator's labels."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cdrcap.commands import verify as verify_command
from cdrcap.errors import CdrcapError
from cdrcap.truth import GROUND_TRUTH_FILE, GroundTruth
from cdrcap.verify_labels import LabelTruth
from infra.aws import Target
from loadgen.synth.labels import LABELS_FILE
from pipeline import constants as c
from pipeline.aggregate import COUNTERS
from pipeline.config import PipelineConfig

TARGET = Target(name="local", endpoint_url="http://127.0.0.1:9", is_local=True)
STREAM_TRUTH = GroundTruth(
    {("cell#1", "m#1"): dict.fromkeys(COUNTERS, 1)}, frozenset({"a"}), Counter({("ab12", "DUPLICATE_CDR"): 1})
)
HANDLER_ENV = {
    c.ENV_OUTPUT_STREAM: "out",
    c.ENV_AGGREGATES_TABLE: "table",
    c.ENV_ARCHIVE_BUCKET: "bucket",
    c.ENV_DLQ_URL: "http://127.0.0.1:9/queue",
}


def args(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    verify_command.register(parser)
    return parser.parse_args(["--run", "unused", *flags])


@pytest.fixture
def labelled_run(tmp_path: Path) -> Path:
    (tmp_path / LABELS_FILE).write_text("cdr_id,kind,label,expected_reason,first_utc_s,last_utc_s\n")
    return tmp_path


@pytest.fixture
def stream(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The stream truth's inputs, recorded: (stream name, the config it was built under)."""
    seen: dict[str, Any] = {}

    def truth_of_stream(kinesis: Any, name: str, config: PipelineConfig) -> GroundTruth:
        seen.update(stream=name, design=config.exactly_once)
        return STREAM_TRUTH

    monkeypatch.setattr(verify_command, "truth_of_stream", truth_of_stream)
    return seen


def deployed(monkeypatch: pytest.MonkeyPatch, design: str | Exception) -> None:
    def answer(*_: Any) -> tuple[dict[str, str], str]:
        if isinstance(design, Exception):
            raise design
        return {**HANDLER_ENV, c.ENV_EXACTLY_ONCE: design}, "cdr-in"

    monkeypatch.setattr(verify_command, "_deployed", answer)


def truth_for(run_dir: Path, *flags: str) -> GroundTruth | LabelTruth:
    return verify_command._truth(args(*flags), run_dir, run_dir / GROUND_TRUTH_FILE, TARGET, None)


def test_under_ledger_a_labelled_run_is_held_to_the_stream_truth_which_is_saved(
    labelled_run: Path, stream: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed(monkeypatch, "ledger")
    assert truth_for(labelled_run) == STREAM_TRUTH
    assert stream == {"stream": "cdr-in", "design": "ledger"}
    assert GroundTruth.read(labelled_run / GROUND_TRUTH_FILE) == STREAM_TRUTH


@pytest.mark.parametrize("design", ["per_record", ClientError({"Error": {"Code": "AccessDenied"}}, "Get")])
def test_other_designs_or_an_unknown_one_keep_the_labels_check(
    labelled_run: Path, stream: dict[str, Any], monkeypatch: pytest.MonkeyPatch, design: str | Exception
) -> None:
    deployed(monkeypatch, design)
    assert isinstance(truth_for(labelled_run), LabelTruth) and not stream


def test_asked_the_stream_truth_replaces_a_saved_one(
    labelled_run: Path, stream: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    GroundTruth({}, frozenset(), Counter()).write(labelled_run / GROUND_TRUTH_FILE)
    deployed(monkeypatch, "per_record")
    assert truth_for(labelled_run, "--truth-from-stream") == STREAM_TRUTH
    assert stream["design"] == "per_record"


def test_a_saved_truth_is_used_as_it_is(labelled_run: Path, stream: dict[str, Any]) -> None:
    saved = GroundTruth({}, frozenset({"x"}), Counter())
    saved.write(labelled_run / GROUND_TRUTH_FILE)
    assert truth_for(labelled_run) == saved and not stream


def test_a_deployed_function_whose_configuration_is_unusable_is_a_usage_error(
    labelled_run: Path, stream: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_command, "_deployed", lambda *_: ({c.ENV_EXACTLY_ONCE: "ledger"}, "cdr-in"))
    with pytest.raises(CdrcapError, match="the deployed function's configuration"):
        truth_for(labelled_run)


def test_asked_on_a_stack_without_the_function_output_it_says_what_to_pass(
    labelled_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_command, "_stack_outputs", lambda *_: {c.OUTPUT_AGGREGATES_TABLE: "t"})
    staging = Target(name="staging")
    with pytest.raises(CdrcapError, match="FunctionName / InputStreamName output: pass --stack"):
        verify_command._truth(
            args("--truth-from-stream"), labelled_run, labelled_run / GROUND_TRUTH_FILE, staging, None
        )
