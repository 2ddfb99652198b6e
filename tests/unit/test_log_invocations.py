"""One row per invocation from the function's log lines: REPORT joined with the EMF line between its
START and END in the same log stream, read completely even when the service does not paginate."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from capacity import quotas
from capacity.log_invocations import LogReadStats, invocation_rows, read_log_events
from infra.local.esm.lambda_logs import InvocationLog, invocation_events
from pipeline.handler import batch_shard, metrics_line
from pipeline.observability import emf_line
from pipeline.processor import BatchOutcome


def _events(stream: str, request_id: str, start_ms: float, records: int, cold: bool) -> list[dict[str, Any]]:
    emf = emf_line("cdrcap", {"RecordsIn": records, "RecordsDeferred": 0}, [300.0, 350.0, 400.0], 0)
    log = InvocationLog(stream, ((int(start_ms) + 5, emf.decode()),), 90, 250.0 if cold else None)
    return [
        {"logStreamName": stream, "timestamp": t, "message": m}
        for t, m in invocation_events(request_id, start_ms, start_ms + 40.0, 1024, log)
    ]


def test_rows_join_report_and_emf_per_stream_even_interleaved() -> None:
    # Given two execution environments whose invocations overlap in time
    events = _events("a", "r1", 1_000, 10, True) + _events("b", "r2", 1_010, 20, True)
    events += _events("a", "r3", 1_100, 30, False)
    events.sort(key=lambda e: e["timestamp"])
    rows = invocation_rows(events).set_index("invocation_id")
    # Then each REPORT gets its own invocation's EMF line
    assert rows.loc["r1", "batch_records"] == 10 and rows.loc["r2", "batch_records"] == 20
    assert rows.loc["r3", "batch_records"] == 30
    assert rows.loc["r1", "duration_ms"] == pytest.approx(40.0)
    assert rows.loc["r1", "init_duration_ms"] == 250.0
    assert rows["init_duration_ms"].isna().sum() == 1  # only r3 is warm
    # iterator age estimated as the youngest record's end-to-end latency minus the duration
    assert rows.loc["r1", "iterator_age_ms"] == pytest.approx(300.0 - 40.0)
    assert rows.loc["r1", "e2e_max_ms"] == 400.0 and set(rows["outcome"]) == {"ok"}


def test_an_invocation_without_emf_is_an_error() -> None:
    log = InvocationLog("a", ((1_001, "[ERROR] ValueError: boom"),), 90, None)
    events = [
        {"logStreamName": "a", "timestamp": t, "message": m}
        for t, m in invocation_events("r1", 1_000.0, 1_010.0, 512, log)
    ]
    assert list(invocation_rows(events)["outcome"]) == ["error"]


class NoPagination:
    """FilterLogEvents as MiniStack 1.5.33 answers it: at most 10,000 events and never a nextToken."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.calls = 0

    def filter_log_events(self, **arguments: Any) -> dict[str, Any]:
        self.calls += 1
        found = [e for e in self.events if arguments["startTime"] <= e["timestamp"] <= arguments["endTime"]]
        return {"events": found[: quotas.FILTER_LOG_EVENTS_MAX_EVENTS]}


def test_full_pages_without_a_token_are_split_until_everything_is_read() -> None:
    events = [{"logStreamName": "a", "timestamp": 1_000 + i // 10, "message": f"m{i}"} for i in range(25_000)]
    stats = LogReadStats()
    read = read_log_events(NoPagination(events), "g", 0, 200_000, stats)
    assert len(read) == 25_000 and stats.events == 25_000
    assert stats.bytes == sum(len(e["message"]) for e in events)
    assert stats.cost()["filter_log_events_usd"] == 0.0


def test_the_handlers_shard_property_places_each_invocation_on_its_shard() -> None:
    # Given the handler's EMF line for a batch of shard 3 (its eventIDs), and a line without the property
    event = {"Records": [{"eventID": "shardId-000000000003:4959033827149025660855969253836157"}]}
    emf = metrics_line(BatchOutcome(records_in=2), 1.0, "cdrcap", None, batch_shard(event))
    events = []
    for request_id, line in (("r1", emf), ("r2", emf_line("cdrcap", {"RecordsIn": 2}, [], 0))):
        log = InvocationLog("a", ((1_005, line.decode()),), 90, None)
        events += [{"logStreamName": "a", "timestamp": t, "message": m}
                   for t, m in invocation_events(request_id, 1_000.0, 1_040.0, 512, log)]  # fmt: skip
    rows = invocation_rows(events).set_index("invocation_id")
    # Then the log reader reads the shard from the property (a metric it is not: no custom-metric cost)
    assert rows.loc["r1", "shard_id"] == "shardId-000000000003" and rows.loc["r2", "shard_id"] == ""
    assert "ShardId" not in {m["Name"] for m in orjson.loads(emf)["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert batch_shard({"Records": []}) == ""
