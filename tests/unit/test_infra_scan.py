"""infra/scan.py reading checkov's JSON report."""

from __future__ import annotations

from infra.scan import parse_report

REPORT = {
    "check_type": "cloudformation",
    "results": {
        "passed_checks": [{"check_id": "CKV_AWS_43", "resource": "AWS::Kinesis::Stream.InputStream"}],
        "failed_checks": [
            {
                "check_id": "CKV_AWS_27",
                "check_name": "Ensure all data stored in the SQS queue is encrypted",
                "resource": "AWS::SQS::Queue.DeadLetterQueue",
                "file_path": "/infra/pipeline.yaml",
                "check_result": {"result": "FAILED"},
            }
        ],
        "skipped_checks": [
            {
                "check_id": "CKV_AWS_18",
                "resource": "AWS::S3::Bucket.ArchiveBucket",
                "check_result": {"result": "SKIPPED", "suppress_comment": "why it is fine"},
            }
        ],
    },
}


def test_failed_and_skipped_checks_are_read_with_their_reasons() -> None:
    result = parse_report(REPORT)
    assert result.passed == 1 and not result.ok
    assert [(f.check_id, f.resource) for f in result.failed] == [
        ("CKV_AWS_27", "AWS::SQS::Queue.DeadLetterQueue")
    ]
    assert result.skipped[0].justification == "why it is fine"


def test_list_of_reports_and_empty_summaries_are_merged() -> None:
    result = parse_report([REPORT, {"passed": 0, "failed": 0}, REPORT])
    assert (result.passed, len(result.failed), len(result.skipped)) == (2, 2, 2)
