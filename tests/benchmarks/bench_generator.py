"""Generator throughput: CDR payloads per second of CPU (one core), JSON-only and the default format mix.

Target: >= 300,000 JSON records/s per core (issue 4); call slots >= 0.9x of the generator without them.
Run: `python -m tests.benchmarks bench_generator`.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from typing import Any

from loadgen.synth import CdrSynthesizer, SynthConfig

TARGET_JSON_RECORDS_PER_S = 300_000
BATCH_RECORDS = 10_000
BATCHES = 30
TARGET_SLOTS_RATIO = 0.9  # call slots may cost at most 10 % of the generation rate


def _records_per_cpu_s(configs: list[SynthConfig]) -> list[dict[str, Any]]:
    """Per config: records per CPU second (mean, median batch, best batch) and mean record bytes. The
    configs' batches alternate, so a change of the machine's load hits them alike (side by side in one run).

    On a shared machine the mean is dragged down by cache/core contention (a few slow batches); the best
    batch is closest to one uncontended core. Side-by-side ratios are the median over rounds of the two
    configs' batch times in that round (neighbours in time, so they share the machine's load).
    """
    synths = [CdrSynthesizer(config, seed=1) for config in configs]
    for synth in synths:
        synth.batch_with_keys(BATCH_RECORDS)  # warm caches (time-of-day vocabulary)
    took: list[list[float]] = [[] for _ in synths]
    total_bytes = [0] * len(synths)
    for _ in range(BATCHES):
        for index, synth in enumerate(synths):
            t0 = time.process_time()
            batch = synth.batch_with_keys(BATCH_RECORDS)
            took[index].append(max(time.process_time() - t0, 1e-9))
            total_bytes[index] += batch.payload_bytes
    records = BATCHES * BATCH_RECORDS
    return [
        {
            "mean": records / sum(times),
            "median": BATCH_RECORDS / statistics.median(times),
            "best": BATCH_RECORDS / min(times),
            "bytes": total_bytes[index] / records,
            "times": times,
        }
        for index, times in enumerate(took)
    ]


def _paired(new: dict[str, Any], old: dict[str, Any]) -> float:
    """new's rate / old's, the median over rounds (batch times of one round run back to back)."""
    return float(statistics.median(o / n for n, o in zip(new["times"], old["times"], strict=True)))


def _rate(name: str, value: float, **target: Any) -> dict[str, Any]:
    return {"name": name, "value": float(round(value)), "unit": "records/CPU-s", **target}


def _ratio(name: str, value: float) -> dict[str, Any]:
    target = {"target": f">= {TARGET_SLOTS_RATIO}", "met": value >= TARGET_SLOTS_RATIO}
    return {"name": name, "value": round(value, 3), "unit": "x", **target}


def run() -> dict[str, Any]:
    json_only = dataclasses.replace(SynthConfig(), format_weights=(0.55, 0.45, 0.0, 0.0))
    mix = SynthConfig()
    json_, json_free, mix_, mix_free = _records_per_cpu_s(
        [json_only, uncapped(json_only), mix, uncapped(mix)]
    )
    target = f">= {TARGET_JSON_RECORDS_PER_S:,}"
    return {
        "title": "CDR generator (loadgen.synth): records per CPU second",
        "metrics": [
            _rate(
                "JSON v1/v2, mean",
                json_["mean"],
                target=target,
                met=json_["mean"] >= TARGET_JSON_RECORDS_PER_S,
            ),
            _rate("JSON v1/v2, median batch", json_["median"]),
            _rate("JSON v1/v2, best batch", json_["best"]),
            _rate("default mix (JSON + CSV), mean", mix_["mean"]),
            _rate("default mix, median batch", mix_["median"]),
            _rate("default mix, best batch", mix_["best"]),
            _rate("JSON v1/v2 without call slots, mean", json_free["mean"]),
            _rate("JSON v1/v2 without call slots, median batch", json_free["median"]),
            _rate("default mix without call slots, mean", mix_free["mean"]),
            _rate("default mix without call slots, median batch", mix_free["median"]),
            _ratio("call slots / none, JSON v1/v2 (median of paired batches)", _paired(json_, json_free)),
            _ratio("call slots / none, default mix (median of paired batches)", _paired(mix_, mix_free)),
            {"name": "mean JSON record", "value": round(json_["bytes"], 1), "unit": "bytes"},
            {"name": "mean default-mix record", "value": round(mix_["bytes"], 1), "unit": "bytes"},
        ],
        "subscribers": SynthConfig().subscribers,
        "batch_records": BATCH_RECORDS,
        "notes": "Includes the default fraud and defect injection and partition keys. CPU time "
        "(process_time) of one process; the mean suffers from contention on a shared machine, the median "
        "and best batch less. Side by side, batches alternating: the default (call_lines=2: a subscriber's "
        "background calls at most 2 at a time, loadgen.synth.traffic.CallSlots) and call_lines=0 (no cap: "
        "the generator before 2026-12-03, which drew the same columns in another order). Each batch is one "
        "live batch at the wall clock's now, so a config's 31 batches fall within a few seconds: the "
        "densest load the slots see.",
    }


def uncapped(config: SynthConfig) -> SynthConfig:
    return dataclasses.replace(config, call_lines=0)


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
