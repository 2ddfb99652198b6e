"""The malformed-input corpus through the handler: each bad record rejected, its neighbours processed."""

import base64
from collections import Counter
from typing import Any

import orjson
import pytest

from pipeline import handler as handler_module
from pipeline.processor import BatchProcessor
from pipeline.stores import InMemoryDeadLetterQueue, InMemoryOutputStream, in_memory_stores
from tests.corpus.malformed import Case, cases
from tests.support.pipeline_events import NOW_MS, PIPELINE_CONFIG, as_json, kinesis_event, make_cdr

CORPUS = cases()


def _event_with_neighbours(case: Case, first: int) -> dict[str, Any]:
    """A good CDR, the bad one, a good CDR: three Kinesis records of one shard."""
    event = kinesis_event([as_json(make_cdr(first)), case.payload, as_json(make_cdr(first + 1))], first)
    if case.raw_data is not None:
        event["Records"][1]["kinesis"]["data"] = case.raw_data
    return event


def test_the_corpus_is_large_and_names_are_unique() -> None:
    assert len(CORPUS) >= 200
    assert len({case.name for case in CORPUS}) == len(CORPUS)


def test_the_corpus_covers_every_input_defect_reason() -> None:
    # DUPLICATE_CDR and LOST_CDRS need a batch context; every other reason has a case.
    covered = {case.reason.value for case in CORPUS}
    assert {
        "EMPTY_RECORD",
        "OVERSIZED_RECORD",
        "BAD_ENCODING",
        "MALFORMED_PAYLOAD",
        "CORRUPT_AGGREGATE",
    } <= covered
    assert {
        "UNKNOWN_SCHEMA_VERSION",
        "MISSING_FIELD",
        "BAD_TYPE",
        "INVALID_TIMESTAMP",
        "BER_DECODE_ERROR",
    } <= covered


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_a_bad_record_is_rejected_with_its_reason_and_neighbours_are_processed(case: Case) -> None:
    # Given a malformed record between two good ones
    stores = in_memory_stores()
    # When the batch is processed
    outcome = BatchProcessor(PIPELINE_CONFIG, stores).process(_event_with_neighbours(case, 10), now_ms=NOW_MS)
    # Then only the bad record is rejected, with the expected reason, and nothing is left for a retry
    assert dict(outcome.rejected) == {case.reason.value: 1}
    assert outcome.applied == 2 and outcome.failed_sequence_numbers == []
    assert isinstance(stores.dlq, InMemoryDeadLetterQueue) and isinstance(stores.output, InMemoryOutputStream)
    assert [orjson.loads(m)["reason"] for m in stores.dlq.messages] == [case.reason.value]
    assert len(stores.output.records) == 2


def test_a_bad_sub_record_inside_a_kpl_aggregate_is_rejected_alone() -> None:
    # Given a valid aggregate holding good CDRs around each non-aggregate-level bad payload of the corpus
    from tests.support.pipeline_events import as_kpl

    inner = [c for c in CORPUS if c.raw_data is None and c.reason.value not in ("CORRUPT_AGGREGATE",)]
    inner = [c for c in inner if not c.payload.startswith((b"\xa0", b"\xbf"))]  # BER is not KPL content
    payloads = [as_json(make_cdr(5000)), *[c.payload for c in inner], as_json(make_cdr(5001))]
    stores = in_memory_stores()
    # When processed as one Kinesis record
    outcome = BatchProcessor(PIPELINE_CONFIG, stores).process(
        kinesis_event([as_kpl(payloads)]), now_ms=NOW_MS
    )
    # Then each sub-record gets its own verdict
    assert outcome.applied == 2
    assert outcome.rejected == Counter(c.reason.value for c in inner)


def test_the_whole_corpus_in_one_batch_through_the_handler_raises_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "time.time", lambda: NOW_MS / 1000
    )  # the corpus's time windows are relative to NOW_MS
    # Given every corpus case interleaved with good CDRs, in one event
    records = []
    for k, case in enumerate(CORPUS):
        event = _event_with_neighbours(case, 3 * k)
        records.extend(event["Records"])
    for seq, record in enumerate(records):  # one shard, increasing sequence numbers
        record["kinesis"]["sequenceNumber"] = str(10**20 + seq)
    handler_module.configure(PIPELINE_CONFIG, in_memory_stores())
    try:
        # When the Lambda entry point handles it
        response = handler_module.handler({"Records": records}, None)
    finally:
        handler_module._processor = None
    # Then it returns normally, retries nothing, and its metrics account for every record
    assert response == {"batchItemFailures": []}
    metrics = orjson.loads(capsys.readouterr().out.splitlines()[0])
    assert metrics["RecordsRejected"] == len(CORPUS)
    assert metrics["RecordsOk"] + metrics["RecordsRejected"] == metrics["RecordsIn"]


def test_non_base64_data_keeps_its_position_in_the_dlq() -> None:
    case = next(c for c in CORPUS if c.name == "not-base64")
    stores = in_memory_stores()
    BatchProcessor(PIPELINE_CONFIG, stores).process(_event_with_neighbours(case, 0), now_ms=NOW_MS)
    assert isinstance(stores.dlq, InMemoryDeadLetterQueue)
    message = orjson.loads(stores.dlq.messages[0])
    second = _event_with_neighbours(case, 0)["Records"][1]["kinesis"]["sequenceNumber"]
    assert base64.b64decode(message["payload_b64"]) == b"" and message["sequence_number"] == second
