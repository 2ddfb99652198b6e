"""A run's fraud coverage: complete vs cut-off vs throttled episodes, recall over complete episodes only,
read from constructed labels and output-stream marks (and from a moto Kinesis stream)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from moto import mock_aws

from cdrcap.fraud_coverage import OutputMarks, classify, coverage_by_rule, read_output_marks
from cdrcap.fraud_run import fraud_summary
from loadgen.synth.labels import Label, LabelWriter
from pipeline.fraud.rules import RULE_IDS
from reports.fraud import fraud_section
from reports.render import render_run
from reports.sample import write_sample_run

FULL = dict.fromkeys(RULE_IDS, 40)  # a whole episode's records per scenario


def episode(scenario: str, name: str, records: int) -> list[Label]:
    return [
        Label(f"MSC01:{name}{i}:0", "fraud", scenario, "12015550199", name, 0, 9, "") for i in range(records)
    ]


def marks_for(labels: list[Label], tagged: dict[str, str], lost: set[str] = frozenset()) -> OutputMarks:
    """The output of a pipeline that delivered every label but `lost`, tagging `tagged` cdr_id -> rule."""
    marks = OutputMarks()
    for label in labels:
        if label.cdr_id in lost:
            continue
        line = {"dedup_key": label.cdr_id, "cdr": {}}
        if label.cdr_id in tagged:
            line["fraud_rules"] = [tagged[label.cdr_id]]
        marks.add_line(json.dumps(line).encode(), {label.cdr_id for label in labels})
    return marks


def test_a_cut_off_episode_is_not_counted_as_a_miss() -> None:
    # Given a full wangiri episode the rule tagged, and one cut to 5 records it did not
    complete, short = episode("wangiri", "w-0", 40), episode("wangiri", "w-1", 5)
    labels = complete + short
    marks = marks_for(labels, {complete[25].cdr_id: "wangiri"})
    # When classified
    rules = coverage_by_rule(classify(labels, FULL, marks))
    # Then the short one is cut off, and recall over complete episodes is 1 of 1
    assert rules["wangiri"]["complete_episodes"] == 1
    assert rules["wangiri"]["cut_off_episodes"] == 1
    assert (rules["wangiri"]["detected_complete"], rules["wangiri"]["recall_complete"]) == (1, 1.0)


def test_an_episode_with_cdrs_lost_at_the_producer_is_throttled_not_a_miss() -> None:
    whole, lossy = episode("simbox", "s-0", 40), episode("simbox", "s-1", 40)
    labels = whole + lossy
    marks = marks_for(labels, {whole[0].cdr_id: "simbox"}, lost={lossy[3].cdr_id})

    rules = coverage_by_rule(classify(labels, FULL, marks))

    assert (rules["simbox"]["complete_episodes"], rules["simbox"]["throttled_episodes"]) == (1, 1)
    assert rules["simbox"]["recall_complete"] == 1.0


def test_a_complete_episode_without_its_rules_tag_is_a_miss() -> None:
    # Given two complete velocity episodes, one tagged by another rule only
    hit, missed = episode("velocity", "v-0", 40), episode("velocity", "v-1", 40)
    labels = hit + missed
    marks = marks_for(labels, {hit[10].cdr_id: "velocity", missed[10].cdr_id: "simultaneous"})

    rules = coverage_by_rule(classify(labels, FULL, marks))

    assert (rules["velocity"]["detected_complete"], rules["velocity"]["recall_complete"]) == (1, 0.5)


def test_without_the_output_delivery_and_detection_are_unknown() -> None:
    labels = episode("irsf", "i-0", 40) + episode("irsf", "i-1", 12)

    covered = classify(labels, FULL, None)
    rules = coverage_by_rule(covered)

    assert [e.status for e in covered] == ["complete", "cut_off"]
    assert all(e.detected is None for e in covered)
    assert (rules["irsf"]["detected_complete"], rules["irsf"]["recall_complete"]) == (None, None)


def test_output_lines_of_other_cdrs_and_broken_lines_are_ignored() -> None:
    marks = OutputMarks()
    wanted = {"MSC01:a:0"}
    marks.add_line(b'{"dedup_key": "MSC01:b:0", "fraud_rules": ["wangiri"]}', wanted)
    marks.add_line(b'{"dedup_key": "MSC01:a:0"', wanted)
    marks.add_line(b'{"dedup_key": "MSC01:a:0", "fraud_rules": ["irsf"]}', wanted)
    assert (marks.delivered, marks.rules) == ({"MSC01:a:0"}, {"MSC01:a:0": {"irsf"}})


@mock_aws
def test_the_output_stream_is_read_from_its_start_on_every_shard() -> None:
    # Given an output stream of two shards with enriched lines, one of them tagged
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    kinesis.create_stream(StreamName="out", ShardCount=2)
    lines = [{"dedup_key": f"MSC01:{i}:0", "cdr": {}} for i in range(30)]
    lines[7]["fraud_rules"] = ["wangiri"]
    for index, line in enumerate(lines):
        kinesis.put_record(StreamName="out", Data=json.dumps(line).encode(), PartitionKey=f"k{index}")
    # When read for a few labelled cdr_ids
    marks = read_output_marks(kinesis, "out", {"MSC01:7:0", "MSC01:8:0", "MSC01:99:0"})
    # Then those delivered are found, with their tags
    assert marks.delivered == {"MSC01:7:0", "MSC01:8:0"}
    assert marks.rules == {"MSC01:7:0": {"wangiri"}, "MSC01:8:0": set()}


def test_the_report_splits_complete_from_cut_off_and_points_to_fraud_eval(tmp_path: Path) -> None:
    # Given a run whose wangiri episodes were all cut short and whose IRSF episode was complete and caught
    run_dir = write_sample_run(tmp_path / "run")
    short = episode("wangiri", "w-0", 5) + episode("wangiri", "w-1", 20)
    full = episode("irsf", "i-0", 40)
    writer = LabelWriter(run_dir / "labels.csv")
    writer.write(short + full)
    writer.close()
    (run_dir / "handler.log").write_text("")
    marks = marks_for(short + full, {full[2].cdr_id: "irsf"})
    document = fraud_summary(run_dir, 0.01, run_dir / "handler.log", marks)
    (run_dir / "data" / "fraud.json").write_text(json.dumps(document))
    # When rendered
    render_run(run_dir)
    section = fraud_section(run_dir)
    # Then the table has the split and recall over complete episodes only
    assert section is not None
    assert section.table.headers[3:7] == ("complete", "cut off", "throttled", "recall (complete episodes)")
    markdown = (run_dir / "report.md").read_text()
    assert "| wangiri | 2 | 25 | 0 | 2 | 0 | - | 0 |" in markdown
    assert "| irsf | 1 | 40 | 1 | 0 | 0 | 1 of 1 (100%) | 0 |" in markdown
    assert "of 3 injected episodes, 1 were complete within the run, 2 cut off" in markdown
    assert "0 of the 2 cut-off or throttled episodes were detected anyway." in markdown
    assert "`cdrcap fraud-eval`" in markdown
