"""No MSISDN, IMSI or IMEI in clear in anything the handler logs, whatever the batch and its failures."""

import dataclasses
import logging
import re

import pytest

from loadgen.ber import encode_file
from pipeline import handler as handler_module
from pipeline.ber import BerDecoded, decode_ber, to_wire_fields
from pipeline.stores import InMemoryAggregateStore, InMemoryOutputStream, in_memory_stores
from tests.corpus.malformed import cases
from tests.support.ber_records import MO_CALL, MT_PARTIAL
from tests.support.pipeline_events import (
    NOW_MS,
    PIPELINE_CONFIG,
    as_csv,
    as_json,
    as_kpl,
    kinesis_event,
    make_cdr,
)

MIN_DIGITS = 8  # shorter runs (short codes, 911, cell ids) identify nobody


def _cdrs() -> list[dict[str, object]]:
    """Good and bad CDRs whose identifiers are all distinct, so a leak of any one is visible."""
    out: list[dict[str, object]] = []
    for i in range(60):
        out.append(make_cdr(i, called_number=f"+4420794{i:05d}", imsi=f"2340{i:011d}"))
    out.append(make_cdr(61, imsi="3102612345X"))  # INVALID_IDENTIFIER, raw IMSI in the payload
    out.append(make_cdr(62, calling_number="+1201555999", called_number="+1415555"))  # invalid numbers
    out.append(make_cdr(63, duration_s=-5, calling_number="+12015557777"))
    return out


def _identifiers(cdrs: list[dict[str, object]]) -> set[str]:
    values = set()
    for cdr in cdrs:
        for name in ("calling_number", "called_number", "imsi", "imei"):
            digits = re.sub(r"\D", "", str(cdr.get(name) or ""))
            if len(digits) >= MIN_DIGITS:
                values.add(digits)
    return values


def test_handler_logs_hold_no_subscriber_identifier_in_clear(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given JSON, CSV, KPL, BER and corrupt batches with distinct subscriber identifiers, at DEBUG level
    cdrs = _cdrs()
    ber_fields = [
        to_wire_fields(r.fields)
        for r in decode_ber(MO_CALL + MT_PARTIAL, home_region="IN")
        if isinstance(r, BerDecoded)
    ]
    chunk = encode_file([(MO_CALL, 6), (MT_PARTIAL, 6)])
    corrupted_chunk = chunk[:70] + b"\xff" + chunk[71:]
    batches = [
        [as_json(c) for c in cdrs[:20]] + [as_csv(c, 2) for c in cdrs[20:40]],
        [as_kpl([as_json(c) for c in cdrs[40:]]), MO_CALL, chunk, corrupted_chunk],
        [case.payload for case in cases() if case.raw_data is None],
    ]
    stores = in_memory_stores()
    assert isinstance(stores.aggregates, InMemoryAggregateStore)
    assert isinstance(stores.output, InMemoryOutputStream)
    handler_module.configure(dataclasses.replace(PIPELINE_CONFIG, log_level="DEBUG"), stores)
    monkeypatch.setattr("time.time", lambda: NOW_MS / 1000)
    caplog.set_level(logging.DEBUG)
    try:
        # When the handler processes them, including throttled and failing sinks (the warning paths)
        for k, payloads in enumerate(batches):
            stores.aggregates.fail_next_applies = k % 2
            stores.output.fail_indices = {1} if k == 1 else set()
            handler_module.handler(kinesis_event(payloads, first_seq=1000 * k), None)
    finally:
        handler_module._processor = None
    # Then no identifier appears in stdout, stderr or any log record, in any digit grouping
    captured = capsys.readouterr()
    text = captured.out + captured.err + "\n".join(r.getMessage() for r in caplog.records)
    assert text.strip(), "the handler logged nothing: the scan would be vacuous"
    assert _leaks(text, _identifiers(cdrs) | _identifiers(ber_fields)) == []


def _leaks(text: str, identifiers: set[str]) -> list[str]:
    """The identifiers found in `text` as whole digit runs, ignoring visual separators (+1 201-555-0100)."""
    joined = re.sub(r"(?<=\d)[ \-.()/]+(?=\d)", "", text)
    return sorted(i[:4] + "…" for i in identifiers if re.search(rf"(?<!\d){i}(?!\d)", joined))


def test_the_scan_finds_a_grouped_number() -> None:
    assert _leaks('{"msg": "call from +1 (201) 555-0001"}', {"12015550001"}) == ["1201…"]
    assert _leaks('{"seq": "4959012015550001"}', {"12015550001"}) == []
