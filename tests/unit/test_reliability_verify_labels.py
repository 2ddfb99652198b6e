"""`cdrcap verify` without a ground-truth file: the load generator's labels give a partial, exact check."""

import json
from pathlib import Path

import pytest

from cdrcap.truth import observe_memory
from cdrcap.verify_labels import LabelTruth, check_labels
from loadgen.synth import CdrSynthesizer
from loadgen.synth.config import SynthConfig
from loadgen.synth.labels import LABELS_FILE
from pipeline.stores import InMemoryAggregateStore, in_memory_stores
from tests.support.lambda_driver import deliver_with_faults, shard_batches

EVERY_FAULT = (
    "crash_after_apply:0.1,crash_after_emit:0.1,dynamo_throttle:0.1,output_throttle:0.1,dlq_error:0.1"
)


@pytest.fixture
def labelled_run(tmp_path: Path) -> tuple[Path, list[bytes]]:
    """A run dir with the synthesizer's labels and a load summary with nothing dropped."""
    run_dir = tmp_path / "run"
    synth = CdrSynthesizer(
        SynthConfig(subscribers=2_000, cells=40), seed=5, labels_path=run_dir / LABELS_FILE
    )
    payloads = synth.batch(900)
    synth.close()
    (run_dir / "data").mkdir(parents=True)
    totals = {"offered": 900, "accepted": 900, "dropped": 0, "failed": 0}
    (run_dir / "data" / "load_summary.json").write_text(json.dumps({"totals": totals}))
    return run_dir, payloads


def _deliver_with_faults(payloads: list[bytes], spec: str) -> object:
    stores = in_memory_stores()
    deliver_with_faults(shard_batches(payloads, shards=2, batch_size=100), stores, spec, seed=2)
    return stores


def test_labels_check_holds_after_faulty_redelivery(labelled_run: tuple[Path, list[bytes]]) -> None:
    run_dir, payloads = labelled_run
    truth = LabelTruth(run_dir)
    assert truth.exact and sum(truth.rejects.values()) > 0, "the synthesizer made no defect: vacuous"
    report = check_labels(truth, observe_memory(_deliver_with_faults(payloads, EVERY_FAULT)))  # type: ignore[arg-type]
    assert report.ok, report.text()


def test_labels_check_catches_a_doubled_aggregate(labelled_run: tuple[Path, list[bytes]]) -> None:
    run_dir, payloads = labelled_run
    stores = _deliver_with_faults(payloads, "")
    aggregates = stores.aggregates  # type: ignore[attr-defined]
    assert isinstance(aggregates, InMemoryAggregateStore)
    key = next(k for k in aggregates.items if k[0].startswith("cell#"))
    aggregates.items[key][0] += 1  # one CDR counted twice
    report = check_labels(LabelTruth(run_dir), observe_memory(stores))  # type: ignore[arg-type]
    assert not report.ok and "cell items count" in report.text()
