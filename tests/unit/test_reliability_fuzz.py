"""Property-based fuzzing of decode/validate and of the whole batch processor: reject, never raise."""

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.decode import Rejected, decode_payload
from pipeline.emit import enriched_line
from pipeline.processor import BatchProcessor
from pipeline.schema import JSON_FIELDS_V1, ReasonCode
from pipeline.stores import (
    InMemoryAggregateStore,
    InMemoryDeadLetterQueue,
    InMemoryOutputStream,
    in_memory_stores,
)
from pipeline.validate import Limits, to_canonical
from tests.corpus.malformed import cases
from tests.support.pipeline_events import (
    NOW_MS,
    PIPELINE_CONFIG,
    as_csv,
    as_json,
    as_kpl,
    kinesis_event,
    make_cdr,
)

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMITS = Limits("US", NOW_MS, 300_000, 30 * 86_400_000)
BAD = [case.payload for case in cases() if case.raw_data is None]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)


def _accepts_or_rejects(payload: bytes) -> None:
    try:
        source_format, fields = decode_payload(payload, 64 * 1024)
        cdr = to_canonical(fields, source_format, LIMITS)
    except Rejected as rejected:
        assert isinstance(rejected.reason, ReasonCode)
        return
    # An accepted CDR must be writable to the output stream and archive.
    assert orjson.loads(enriched_line(cdr, "p", NOW_MS))["dedup_key"] == cdr.cdr_id


@FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_bytes_are_decoded_or_rejected(payload: bytes) -> None:
    _accepts_or_rejects(payload)


@FUZZ
@given(st.dictionaries(st.sampled_from(JSON_FIELDS_V1), json_values, max_size=6), st.integers(0, 10**6))
def test_a_good_json_cdr_with_fields_replaced_by_any_json_value_is_accepted_or_rejected(
    replaced: dict[str, Any], i: int
) -> None:
    _accepts_or_rejects(orjson.dumps({**make_cdr(i), **replaced}))


@FUZZ
@given(st.lists(st.text(max_size=12), min_size=1, max_size=30))
def test_any_csv_cells_are_accepted_or_rejected(cells: list[str]) -> None:
    _accepts_or_rejects(",".join(["1", *cells]).encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.integers(0, 400), st.binary(min_size=1, max_size=3), st.integers(0, 10**6))
def test_a_good_payload_with_bytes_spliced_in_is_accepted_or_rejected(
    at: int, spliced: bytes, i: int
) -> None:
    for good in (as_json(make_cdr(i), 2), as_csv(make_cdr(i), 2)):
        cut = at % (len(good) + 1)
        _accepts_or_rejects(good[:cut] + spliced + good[cut:])


payload_kinds = st.one_of(
    st.integers(0, 10**6).map(lambda i: ("ok", as_json(make_cdr(i)))),
    st.integers(0, 10**6).map(lambda i: ("ok", as_csv(make_cdr(i), 2))),
    st.sampled_from(BAD).map(lambda p: ("bad", p)),
    st.binary(max_size=120).map(lambda p: ("any", p)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(payload_kinds, min_size=1, max_size=40), st.booleans())
def test_any_batch_accounts_for_every_unit_exactly_once(
    items: list[tuple[str, bytes]], aggregated: bool
) -> None:
    # Given a batch of good, corpus-bad and arbitrary payloads, optionally all in one KPL aggregate
    payloads = [p for _, p in items]
    event = kinesis_event([as_kpl(payloads)] if aggregated else payloads)
    stores = in_memory_stores()
    # When processed twice (a re-delivery)
    first = BatchProcessor(PIPELINE_CONFIG, stores).process(event, now_ms=NOW_MS)
    assert isinstance(stores.aggregates, InMemoryAggregateStore)
    after_first = stores.aggregates.snapshot()
    second = BatchProcessor(PIPELINE_CONFIG, stores).process(event, now_ms=NOW_MS)
    # Then every unit is applied or rejected, once, and the re-delivery changes no aggregate
    assert first.failed_sequence_numbers == [] and second.failed_sequence_numbers == []
    assert first.applied + sum(first.rejected.values()) == first.records_in
    assert first.applied >= sum(kind == "ok" for kind, _ in items) - sum(
        first.rejected[r] for r in ("DUPLICATE_CDR", "OVERSIZED_RECORD")
    )
    assert second.applied == 0 and second.replayed == first.applied
    assert stores.aggregates.snapshot() == after_first
    assert isinstance(stores.dlq, InMemoryDeadLetterQueue) and isinstance(stores.output, InMemoryOutputStream)
    assert len(stores.dlq.messages) == 2 * sum(first.rejected.values())
