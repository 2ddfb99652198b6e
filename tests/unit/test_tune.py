"""The power-tuning sweep without AWS or an emulator: option parsing, the table from REPORT lines, the
cheapest and the fastest within 10 % of it, tune.json, and `cdrcap plan --from` planning with its curve."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from capacity.log_invocations import invocation_rows
from capacity.quotas import US_EAST_1
from capacity.tuning import (
    DurationCurve,
    TuneError,
    TuneRow,
    TuneTable,
    cost_per_million_cdrs_usd,
    parse_architectures,
    parse_memories,
    summarise,
)
from cdrcap import tune
from cdrcap.cli import main
from cdrcap.commands.tune import parse_batches, write_outputs
from cdrcap.errors import CdrcapError
from infra.power_tuning import AwsFunction, TuneTargetError
from tests.support import tune_fakes
from tests.support.tune_fakes import FakeFunction


def _row(memory_mb: int, architecture: str, duration_ms: float, cost: float) -> TuneRow:
    return TuneRow(
        memory_mb,
        architecture,
        "measured",
        invocations=5,
        batch_records=100.0,
        duration_ms_mean=duration_ms,
        cost_per_million_cdrs_usd=cost,
    )


def _table(*rows: TuneRow) -> TuneTable:
    return TuneTable(rows, "local", "fake", 100, 5, "synthesised", extra={"batch_kib": 40.0})


# -- options ---------------------------------------------------------------------------------------------


def test_memories_are_parsed_sorted_and_deduplicated() -> None:
    assert parse_memories("1769, 256,512,256") == (256, 512, 1769)


@pytest.mark.parametrize(("text", "named"), [("64", "64 MB"), ("256,10241", "10241 MB"), ("256,1g", "'1g'")])
def test_a_memory_outside_lambdas_range_or_not_a_number_is_named(text: str, named: str) -> None:
    with pytest.raises(TuneError, match=named):
        parse_memories(text)


def test_architectures_are_lambdas_two() -> None:
    assert parse_architectures("arm64,x86_64,arm64") == ("arm64", "x86_64")
    with pytest.raises(TuneError, match="'amd64'"):
        parse_architectures("arm64,amd64")


def test_batches_take_a_count_or_small() -> None:
    assert parse_batches("small") == tune.SMALL_BATCHES
    assert parse_batches("12") == 12
    for bad in ("1", "many", "-3"):
        with pytest.raises(CdrcapError, match=repr(bad)):
            parse_batches(bad)


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--memory", "100"], "100 MB"),
        (["--memory", "256,20000"], "20000 MB"),
        (["--arch", "sparc"], "'sparc'"),
        (["--batches", "0"], "'0'"),
        (["--batch-size", "20000"], "--batch-size 20000"),
        (["--from", "/nonexistent/run"], "/nonexistent/run"),
    ],
)
def test_bad_options_exit_2_naming_the_value(
    flags: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tune", "--state-dir", str(tmp_path), *flags]) == 2
    assert named in capsys.readouterr().err


def test_a_target_without_a_deployed_function_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no local stack up in the state dir
    assert main(["tune", "--state-dir", str(tmp_path / "none"), "--runs-dir", str(tmp_path / "runs")]) == 2
    error = capsys.readouterr().err
    assert "no local stack is up" in error and str(tmp_path / "none") in error and "cdrcap up" in error
    assert not (tmp_path / "runs").exists()  # nothing written


# -- the table -------------------------------------------------------------------------------------------


def test_cost_per_million_cdrs_is_gb_seconds_plus_requests() -> None:
    # 10,000 invocations of 100 CDRs, 200 ms at 1,024 MB on x86_64
    cost = cost_per_million_cdrs_usd(200.0, 1024, "x86_64", 100.0, US_EAST_1)
    expected = 10_000 * 0.2 * 1.0 * US_EAST_1.lambda_gb_second_x86_64_usd + 10_000 * 0.2 / 1e6
    assert cost == pytest.approx(expected)
    assert cost_per_million_cdrs_usd(200.0, 1024, "arm64", 100.0, US_EAST_1) < cost


def test_cheapest_and_fastest_within_ten_percent_of_it() -> None:
    table = _table(
        _row(256, "x86_64", 900.0, 1.00),
        _row(512, "x86_64", 500.0, 1.08),  # within 10 %, faster
        _row(1024, "x86_64", 300.0, 1.25),  # faster still, but 25 % dearer
        TuneRow(256, "arm64", "not measured", note="not measurable locally"),
    )
    cheapest, fastest = table.cheapest(), table.fastest_near_cheapest()
    assert cheapest is not None and (cheapest.memory_mb, cheapest.architecture) == (256, "x86_64")
    assert fastest is not None and fastest.memory_mb == 512


def test_without_a_measured_row_there_is_no_choice() -> None:
    table = _table(TuneRow(256, "arm64", "not measured", note="x"))
    assert table.cheapest() is None and table.fastest_near_cheapest() is None


def test_a_row_from_report_lines_uses_warm_invocations_and_reports_the_init_apart() -> None:
    # Given the log lines of one cold and three warm invocations at 512 MB
    function = FakeFunction()
    key = function.configure(512, "x86_64").key
    for _ in range(4):
        function.invoke(key, json.dumps({"Records": [{}] * 50}).encode())
    rows = invocation_rows(function.log_events(key))
    # When they are summarised
    row = summarise(512, "x86_64", rows, cpu_share=0.29)
    # Then durations are the warm ones, the init is the cold start's, cost is per CDR
    warm_ms = tune_fakes.IO_MS + tune_fakes.CPU_MS / (512 / 1769)
    assert row.invocations == 4 and row.batch_records == 50.0
    assert row.duration_ms_mean == pytest.approx(warm_ms, abs=0.01)
    assert row.init_duration_ms == pytest.approx(tune_fakes.INIT_MS)
    assert row.cold_duration_ms == pytest.approx(warm_ms, abs=0.01)  # the fake's cold call is as long
    assert row.max_memory_used_mb == 120
    assert row.cost_per_million_cdrs_usd == pytest.approx(
        cost_per_million_cdrs_usd(math.ceil(warm_ms), 512, "x86_64", 50.0, US_EAST_1), rel=1e-3
    )


def test_no_report_line_is_a_not_measured_row() -> None:
    row = summarise(256, "x86_64", pd.DataFrame())
    assert not row.measured and "no REPORT line" in row.note


def test_the_sweep_runs_every_configuration_and_marks_what_it_cannot_measure() -> None:
    # Given a function that can run x86_64 only
    function = FakeFunction(("x86_64",))
    source = tune.source_from_run(None, 20, 7)
    # When two memories x two architectures are swept with three batches each
    table, invocations = tune.run_sweep(function, (256, 1769), ("arm64", "x86_64"), source, 3, target="fake")
    # Then arm64 is reported as not measured, x86_64 measured from three invocations of 20 CDRs each
    by_key = {(row.memory_mb, row.architecture): row for row in table.rows}
    assert not by_key[(256, "arm64")].measured and "not measurable" in by_key[(256, "arm64")].note
    assert by_key[(256, "x86_64")].invocations == 3 and [n for _, n in function.invoked] == [20] * 6
    # taking turns batch by batch
    assert [key for key, _ in function.invoked] == ["256-x86_64", "1769-x86_64"] * 3
    assert by_key[(256, "x86_64")].handler_cpu_ms == tune_fakes.CPU_MS
    # and the CPU-bound part falls with memory
    assert by_key[(1769, "x86_64")].duration_ms_mean < by_key[(256, "x86_64")].duration_ms_mean
    assert set(invocations["memory_mb"]) == {256, 1769}
    assert table.extra["batch_kib"] > 0


def test_the_same_cdrs_are_replayed_under_fresh_call_references() -> None:
    function = FakeFunction()
    source = tune.source_from_run(None, 5, 3)
    first, _ = tune.replay_events(function, source, 2, "tuneabcc00", 1_796_000_000.0)
    second, _ = tune.replay_events(function, source, 2, "tuneabcc01", 1_796_000_000.0)

    def payloads(events: list[bytes]) -> list[bytes]:
        return [base64.b64decode(r["kinesis"]["data"]) for e in events for r in json.loads(e)["Records"]]

    one, two = payloads(first), payloads(second)
    assert len(one) == 10 and one != two  # other call references, so no duplicate claims
    assert [p.replace(b"c01", b"c00") for p in two] == one  # and otherwise the same CDRs


def test_outputs_are_written_and_tune_json_round_trips(tmp_path: Path) -> None:
    function = FakeFunction()
    table, invocations = tune.run_sweep(
        function, (256, 1024), ("x86_64",), tune.source_from_run(None, 10, 1), 3, target="fake"
    )
    (tmp_path / "data").mkdir()
    document = write_outputs(table, invocations, tmp_path)
    for name in ("tune.json", "tune.csv", "tune.png", "data/invocations.csv"):
        assert (tmp_path / name).stat().st_size > 0, name
    again = TuneTable.from_dict(json.loads((tmp_path / "tune.json").read_text()))
    assert again.to_dict() == document
    assert document["cheapest"]["memory_mb"] in (256, 1024)
    assert len(pd.read_csv(tmp_path / "tune.csv")) == 2


# -- the curve and the planner ---------------------------------------------------------------------------


def test_the_curve_interpolates_between_measured_memories_and_stands_in_for_an_unmeasured_arch() -> None:
    curve = DurationCurve.from_table(
        _table(_row(256, "x86_64", 900.0, 1.0), _row(1024, "x86_64", 500.0, 1.2)), "tune.json"
    )
    assert curve.duration_ms(640, "x86_64") == pytest.approx(700.0)
    assert curve.duration_ms(4096, "x86_64") == 500.0  # flat beyond the ends, never extrapolated
    assert curve.stand_in("arm64") == "x86_64" and curve.duration_ms(256, "arm64") == 900.0
    assert "arm64 not measured" in curve.sentence(("arm64", "x86_64"))
    assert curve.speed(450.0, 256, "x86_64") == pytest.approx(2.0)


def _plannable_run(run_dir: Path, with_tune: bool) -> Path:
    run_dir.mkdir()
    summary = {
        "service_time_model": {"a_ms": 40.0, "b_ms_per_record": 0.3, "memory_mb": 1769},
        "plan_inputs": {"rate_rps": 800.0, "record_bytes": 400.0},
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))
    if with_tune:
        # A handler that waits: 256 MB is as fast as 1,024 MB, so the estimate's preference for more
        # memory is gone.
        table = _table(_row(256, "x86_64", 80.0, 1.0), _row(1024, "x86_64", 78.0, 3.9))
        (run_dir / "tune.json").write_text(json.dumps(table.to_dict()))
    return run_dir


def test_plan_from_a_run_with_tune_json_uses_the_measured_curve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _plannable_run(tmp_path / "run", with_tune=True)
    assert main(["plan", "--from", str(run_dir), "--json"]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    scaling = result["details"]["memory_scaling"]
    assert scaling["kind"] == "measured" and "tune.json" in scaling["source"]
    assert result["recommendation"]["memory_mb"] in (256, 1024)  # only the measured sizes
    assert any("power-tuning sweep" in line for line in result["details"]["assumptions"])


def test_plan_from_a_run_without_tune_json_says_it_used_the_estimate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _plannable_run(tmp_path / "run", with_tune=False)
    assert main(["plan", "--from", str(run_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["details"]["memory_scaling"]["kind"] == "estimate"


def test_plan_from_a_tune_directory_alone_plans_with_its_curve_and_a_given_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tune_dir = tmp_path / "tune"
    tune_dir.mkdir()
    table = _table(_row(512, "x86_64", 200.0, 1.0), _row(1769, "x86_64", 150.0, 2.0))
    (tune_dir / "tune.json").write_text(json.dumps(table.to_dict()))
    assert main(["plan", "--from", str(tune_dir), "--rate", "300", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["details"]["memory_scaling"]["kind"] == "measured"
    assert result["details"]["service_time_model"]["b_ms_per_record"] == pytest.approx(150.0 / 100.0)


# -- the AWS path ----------------------------------------------------------------------------------------


class FakeLambda:
    """The Lambda API calls AwsFunction makes, answering Invoke with a LogType=Tail log."""

    def __init__(self, tail: str) -> None:
        self.tail = tail
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_function_configuration(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("get", kwargs))
        return {"Architectures": ["arm64"], "MemorySize": 512, "LastUpdateStatus": "Successful"}

    def update_function_configuration(self, **kwargs: Any) -> None:
        self.calls.append(("update", kwargs))

    def publish_version(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("publish", kwargs))
        return {"Version": "7"}

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("invoke", kwargs))
        return {"LogResult": base64.b64encode(self.tail.encode())}


def test_the_aws_path_sets_memory_publishes_a_version_and_reads_the_report_line_of_the_tail() -> None:
    # Given a function whose invocations log as Lambda does
    fake = FakeFunction()
    fake_key = fake.configure(1024, "x86_64").key
    fake.invoke(fake_key, b'{"Records": [{}, {}]}')
    tail = "\n".join(event["message"] for event in fake.log_events(fake_key)) + "\n"
    lambda_client = FakeLambda(tail)
    function = AwsFunction(lambda_client, "fn", "arn:aws:kinesis:us-east-1:1:stream/cdr-in", "us-east-1")
    # When a configuration of its architecture is set and invoked
    configured = function.configure(1024, "arm64")
    assert configured.measurable
    function.invoke(configured.key, b"{}")
    rows = invocation_rows(function.log_events(configured.key))
    # Then the memory was updated, a version published and invoked, and the REPORT line read
    kinds = [kind for kind, _ in lambda_client.calls]
    assert kinds.index("update") < kinds.index("publish") < kinds.index("invoke")
    assert lambda_client.calls[kinds.index("invoke")][1]["Qualifier"] == "7"
    assert len(rows) == 1 and rows.iloc[0]["memory_size_mb"] == 1024 and rows.iloc[0]["batch_records"] == 2
    # And the other architecture is reported as needing its own build, not faked
    other = function.configure(1024, "x86_64")
    assert not other.measurable and "Architecture=x86_64" in other.note


def test_the_aws_path_without_the_function_is_an_error_naming_it() -> None:
    from botocore.exceptions import ClientError

    class Missing(FakeLambda):
        def get_function_configuration(self, **kwargs: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "GetFunctionConfiguration")

    with pytest.raises(TuneTargetError, match="'fn' is not deployed"):
        AwsFunction(Missing(""), "fn", "arn:aws:kinesis:us-east-1:1:stream/x", "us-east-1")


def test_a_share_above_what_the_host_gives_is_marked_host_bound() -> None:
    # Given a host that gives an unlimited process 0.3 of a core
    function = FakeFunction()
    function.host_cores = 0.3
    table, _ = tune.run_sweep(
        function, (256, 1024), ("x86_64",), tune.source_from_run(None, 10, 1), 2, target="fake"
    )
    by_memory = {row.memory_mb: row for row in table.rows}
    # Then 256 MB (0.145 core) was capped by the limiter, 1,024 MB (0.58) by the host, and it says so
    assert by_memory[256].note == ""
    assert by_memory[1024].note.startswith("host-bound") and "0.30 of a core" in by_memory[1024].note
    assert table.to_dict()["host_cpu_cores"] == 0.3


def test_a_run_gives_its_seed_formats_and_planned_batch_size(tmp_path: Path) -> None:
    summary = {
        "config": {
            "profile": {"seed": 11, "batch_size": 50, "record_formats": {"json_v2": 0.5, "csv_v2": 0.5}}
        },
        "recommendation": {"batch_size": 200},
    }
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    source = tune.source_from_run(tmp_path, None, None)
    assert (source.batch_size, source.seed, source.source_run) == (200, 11, str(tmp_path))
    assert source.synth.format_weights[0] == 0.0  # no json-v1: the run's mix, not the default
    assert tune.source_from_run(tmp_path, 30, 5).batch_size == 30  # flags win


def test_a_function_that_fails_is_reported_with_its_error_not_as_missing_lines() -> None:
    class Failing(FakeLambda):
        def invoke(self, **kwargs: Any) -> dict[str, Any]:
            import io

            body = io.BytesIO(b'{"errorMessage": "No module named \'boto3\'"}')
            return {
                "FunctionError": "Unhandled",
                "LogResult": base64.b64encode(b"Traceback ..."),
                "Payload": body,
            }

    lambda_client = Failing("")
    function = AwsFunction(lambda_client, "fn", "arn:aws:kinesis:us-east-1:1:stream/cdr-in", "us-east-1")
    table, _ = tune.run_sweep(
        function, (256,), ("arm64",), tune.source_from_run(None, 5, 1), 2, target="emulator"
    )
    (row,) = table.rows
    assert not row.measured
    assert (
        "no REPORT line" in row.note and "the function failed: Unhandled" in row.note and "boto3" in row.note
    )


def test_a_broken_tune_json_is_exit_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tune.json").write_text("{not json")
    assert main(["plan", "--from", str(tmp_path), "--rate", "100"]) == 2
    assert "tune.json is not valid JSON" in capsys.readouterr().err


def test_a_summary_that_only_names_its_profile_falls_back_to_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({"config": {"profile": "demo"}}))
    source = tune.source_from_run(tmp_path, None, None)
    assert (source.batch_size, source.seed) == (tune.DEFAULT_BATCH_SIZE, tune.DEFAULT_SEED)
