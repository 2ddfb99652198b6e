"""Which injected fraud episodes a run could have caught: complete, cut off or throttled, and recall over
the complete ones.

A run is not the fraud evaluation's day. The load generator's episodes unfold over their own timelines
(loadgen/synth/fraud.py: a Wangiri burst within a minute, a SIM-box over minutes to hours, SMS spam over
half an hour), across the producer's batches: an episode begun near the end of the load is cut short,
often below the threshold its rule needs, and missing it says nothing about the rule.
An episode whose CDRs were throttled at the producer and dropped after its retries never fully reached the
pipeline either. So each episode is:

- `cut_off`: fewer records than a full episode of its scenario (loadgen.synth.fraud.EPISODE_RECORDS);
- `throttled`: full size, but some of its CDRs never reached the output stream;
- `complete`: full size and every CDR reached the output stream (delivery unknown: full size only).

An episode is *detected* when one of its CDRs comes out of the pipeline tagged with its rule (the output
record's `fraud_rules`: the handler tags the CDRs of a (subject, window) that holds). Recall counts complete
episodes only; `cdrcap fraud-eval` measures the rules over a whole generated day.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from capacity.quotas import GET_RECORDS_MAX_RECORDS
from loadgen.synth.labels import Label

Status = Literal["complete", "cut_off", "throttled"]
READ_CALLS_BOUND = 2_000  # the harness's own bound on one shard's read-back (GetRecords calls), not AWS's


@dataclass
class OutputMarks:
    """What came out of the pipeline for the labelled fraud CDRs: delivered ids and their rule tags."""

    delivered: set[str] = field(default_factory=set)
    rules: dict[str, set[str]] = field(default_factory=dict)

    def add_line(self, line: bytes, wanted: set[str]) -> None:
        try:
            document = json.loads(line)
        except ValueError:
            return
        cdr_id = document.get("dedup_key") if isinstance(document, dict) else None
        if cdr_id not in wanted:
            return
        self.delivered.add(cdr_id)
        self.rules.setdefault(cdr_id, set()).update(document.get("fraud_rules") or ())


@dataclass(frozen=True)
class EpisodeCoverage:
    episode: str
    scenario: str
    records: int
    status: Status
    detected: bool | None  # None: the output was not read


def classify(
    labels: Iterable[Label], full_records: Mapping[str, int], marks: OutputMarks | None
) -> list[EpisodeCoverage]:
    """Each fraud episode's status and whether its rule tagged one of its CDRs (`full_records`: a whole
    episode's records per scenario)."""
    members: dict[str, list[Label]] = defaultdict(list)
    for label in labels:
        if label.kind == "fraud":
            members[label.episode].append(label)
    covered = []
    for episode, group in sorted(members.items()):
        scenario = group[0].scenario
        ids = [label.cdr_id for label in group]
        status: Status = "complete"
        if len(group) < full_records.get(scenario, 0):
            status = "cut_off"
        elif marks is not None and any(cdr_id not in marks.delivered for cdr_id in ids):
            status = "throttled"
        detected = None if marks is None else any(scenario in marks.rules.get(cdr_id, ()) for cdr_id in ids)
        covered.append(EpisodeCoverage(episode, scenario, len(group), status, detected))
    return covered


def coverage_by_rule(episodes: Sequence[EpisodeCoverage]) -> dict[str, dict[str, Any]]:
    """Per scenario: counts by status, detections among complete episodes, recall over them."""
    rules: dict[str, dict[str, Any]] = {}
    for scenario in sorted({e.scenario for e in episodes}):
        mine = [e for e in episodes if e.scenario == scenario]
        statuses = Counter(e.status for e in mine)
        complete = [e for e in mine if e.status == "complete"]
        known = all(e.detected is not None for e in mine)
        detected = sum(1 for e in complete if e.detected) if known else None
        rules[scenario] = {
            "complete_episodes": statuses["complete"],
            "cut_off_episodes": statuses["cut_off"],
            "throttled_episodes": statuses["throttled"],
            "detected_complete": detected,
            "detected_other": sum(1 for e in mine if e.status != "complete" and e.detected)
            if known
            else None,
            "recall_complete": detected / len(complete) if detected is not None and complete else None,
        }
    return rules


def read_output_marks(kinesis: Any, stream: str, wanted: set[str]) -> OutputMarks:
    """Read the output stream from its start and keep what it says about the `wanted` cdr_ids."""
    marks = OutputMarks()
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for _ in range(READ_CALLS_BOUND):
            page = kinesis.get_records(ShardIterator=iterator, Limit=GET_RECORDS_MAX_RECORDS)
            for record in page["Records"]:
                for line in bytes(record["Data"]).splitlines():
                    marks.add_line(line, wanted)
            iterator = page.get("NextShardIterator")
            if not page["Records"] or not iterator:  # MiniStack's MillisBehindLatest is unreliable
                break
    return marks
