"""ExactlyOnceDesign=ledger on the real local stack (template deployed with the ledger design, limits proxy,
ESM runtime, every handler fault injected): `cdrcap verify` holds it exactly to the truth built from the
input stream as the handler saw it, source duplicates in the same and in a later arrival second included."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from cdrcap.cli import main
from cdrcap.truth import GROUND_TRUTH_FILE, GroundTruth, truth_of_stream
from infra.aws import client
from infra.local import deploy_local
from infra.local.esm.config import EsmConfig
from infra.local.stack import StackInfo
from loadgen.synth.labels import LABELS_FILE
from pipeline import constants as c
from pipeline.aws_stores import CLAIM_PREFIX
from pipeline.config import load_config
from pipeline.ledger import CLAIMS_PREFIX
from pipeline.schema import ReasonCode
from tests.support import reliability_stack as rs
from tests.support.pipeline_events import as_json, make_cdr

COPIES = 20  # source duplicates re-sent in the same PutRecords call, and as many a second later


@pytest.fixture
def ledger_stack(tmp_path: Path) -> Iterator[tuple[Path, StackInfo]]:
    with rs.faulty_stack(tmp_path / "state", seed=5, exactly_once="ledger") as (_, info):
        yield tmp_path / "state", info


def _duplicate_rejects(truth: GroundTruth) -> int:
    return sum(n for (_, reason), n in truth.rejects.items() if reason == ReasonCode.DUPLICATE_CDR.value)


def test_ledger_under_faults_is_exact_against_the_truth_of_what_the_stream_holds(
    ledger_stack: tuple[Path, StackInfo], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir, info = ledger_stack
    # Given the function deployed from the template with ExactlyOnceDesign=ledger
    deployed = deploy_local.function_environment(client(info.target(), "lambda"), info.function_name)
    assert deployed[c.ENV_EXACTLY_ONCE] == "ledger"
    # And a known load (good CDRs of every format and the malformed corpus) with 2 x COPIES source
    # duplicates: COPIES copies in the same PutRecords call as their originals (same key: same shard and,
    # but for a call straddling a second, the same arrival second), COPIES more sent again 1.2 s later
    load = rs.known_load(300)
    originals = [as_json(make_cdr(50_000 + i)) for i in range(2 * COPIES)]
    dup_keys = [f"dup-{i}" for i in range(2 * COPIES)]
    keys = [f"pk-{k}" for k in range(len(load))]
    rs.put_all(info, load + originals + originals[:COPIES], keys=keys + dup_keys + dup_keys[:COPIES])
    time.sleep(1.2)
    rs.put_all(info, originals[COPIES:], keys=dup_keys[COPIES:])
    # When the truth is built from the stream's records as the handler sees them (shard, position, arrival)
    esm = EsmConfig.from_dict(json.loads((state_dir / "esm.json").read_text()))
    kinesis = client(replace(info.target(), kinesis_endpoint_url=None), "kinesis")  # not through the proxy
    truth = truth_of_stream(kinesis, info.input_stream_name, load_config(esm.handler_env))
    # Then it differs from a truth of generated times (one shard, one second: every copy a duplicate):
    # the copies that arrived a second later are counted under ledger's per-second scope
    generated = rs.truth_of(load + originals + originals, info)
    assert _duplicate_rejects(generated) == 2 * COPIES
    assert 1 <= _duplicate_rejects(truth) <= COPIES
    # And the faulty pipeline, once drained, holds exactly that truth
    report = rs.wait_until_verified(info, truth)
    assert report.ok, report.text()
    assert rs.failed_invocations(info) > 0  # the faults really fired and were re-delivered
    # And it ran the ledger design: claims items per (shard, second), no per-CDR claim items
    table = client(info.target(), "dynamodb")
    scanned = table.scan(TableName=info.aggregates_table, ConsistentRead=True)["Items"]
    assert any(item[c.TABLE_PARTITION_KEY]["S"].startswith(CLAIMS_PREFIX) for item in scanned)
    assert not any(item[c.TABLE_PARTITION_KEY]["S"].startswith(CLAIM_PREFIX) for item in scanned)
    # And `cdrcap verify` on a run with only the load generator's labels builds that truth itself (the
    # labels cannot tell which copies ledger rejects) and finds the invariant holding
    run_dir = tmp_path / "run"
    (run_dir / "data").mkdir(parents=True)
    (run_dir / LABELS_FILE).write_text("")
    capsys.readouterr()
    assert main(["verify", "--run", str(run_dir), "--state-dir", str(state_dir), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["ok"] and "built from the records of" in captured.err
    assert GroundTruth.read(run_dir / GROUND_TRUTH_FILE) == truth
