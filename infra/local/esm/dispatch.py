"""Handing records read from a shard to its lanes: the part every record source (polling, EFO) shares."""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass
from typing import Any

from capacity.quotas import GET_RECORDS_MAX_RECORDS
from infra.local.esm.checkpoints import ShardProgress
from infra.local.esm.config import EsmConfig
from infra.local.esm.events import to_stream_record
from infra.local.esm.lane import Lane
from infra.local.esm.telemetry import Telemetry


def lane_of(partition_key: str, lanes: int) -> int:
    """Same key, same lane: the ordering guarantee of the parallelization factor."""
    return zlib.crc32(partition_key.encode("utf-8")) % lanes if lanes > 1 else 0


def max_buffered_records(config: EsmConfig, lanes: int) -> int:
    """Reads stop above this many unfinished records, so a slow function shows up as iterator age."""
    return max(2 * config.batch_size * lanes, GET_RECORDS_MAX_RECORDS)


def dispatch(
    raw_records: list[dict[str, Any]],
    shard_id: str,
    config: EsmConfig,
    lanes: list[Lane],
    progress: ShardProgress,
    telemetry: Telemetry,
) -> None:
    """Record the records as read, count them, and offer each lane its partition keys' records in order."""
    if not raw_records:
        return
    records = [to_stream_record(shard_id, raw, config) for raw in raw_records]
    progress.add(records)
    telemetry.metric("PolledEventCount", len(records), shard_id)
    per_lane: list[list[Any]] = [[] for _ in lanes]
    for record in records:
        per_lane[lane_of(record.partition_key, len(lanes))].append(record)
    for lane, lane_records in zip(lanes, per_lane, strict=True):
        if lane_records:
            lane.offer(lane_records)


@dataclass(frozen=True)
class ShardContext:
    """One shard as the runtime wires it: where its records go and what tracks them."""

    config: EsmConfig
    shard_id: str
    lanes: list[Lane]
    progress: ShardProgress
    telemetry: Telemetry
    stop: threading.Event


class ShardReader(threading.Thread):
    """What a shard's record source (poller or EFO subscriber) holds: its shard, lanes and progress."""

    def __init__(self, kind: str, shard: ShardContext, kinesis: Any) -> None:
        super().__init__(name=f"{kind}-{shard.shard_id}", daemon=True)
        self.config = shard.config
        self.kinesis = kinesis
        self.shard_id = shard.shard_id
        self.lanes = shard.lanes
        self.progress = shard.progress
        self.telemetry = shard.telemetry
        self.stop = shard.stop
        self.max_buffered_records = max_buffered_records(shard.config, len(shard.lanes))
        self.closed = False  # the shard closed after a reshard: the runtime moves on to its children

    def _dispatch(self, raw_records: list[dict[str, Any]]) -> None:
        dispatch(raw_records, self.shard_id, self.config, self.lanes, self.progress, self.telemetry)
