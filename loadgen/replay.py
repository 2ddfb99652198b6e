"""Replay mode: send a CDR file (NDJSON or CSV, one record per line) at N x its recorded speed.

Each line is sent byte-for-byte; its intended send time is the start plus its release time's offset from
the first record's, divided by the speed-up. Measurements go to the same files as a Locust run.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from capacity.quotas import PUT_RECORDS_MAX_RECORDS
from loadgen.errors import LoadgenError
from loadgen.measure import LoadRecorder
from loadgen.producer import KinesisProducer
from loadgen.safety import Caps
from loadgen.synth import CdrSynthesizer
from pipeline.schema import CSV_COLUMNS

RELEASE_CSV_INDEX = CSV_COLUMNS[1].index("release_time")  # the same position in v1 and v2
NUMBER_CSV_INDEX = CSV_COLUMNS[1].index("calling_number")  # a_party in v2, same position
BATCH_WINDOW_S = 0.1  # records due within this window go in one PutRecords call


@dataclass(frozen=True)
class ReplayRecord:
    release_epoch_s: float
    payload: bytes
    partition_key: str


def _pseudonym(number: str) -> str:
    return hashlib.sha1(number.encode(), usedforsecurity=False).hexdigest()[:16]


def parse_line(line: bytes) -> ReplayRecord | None:
    """The release time and a partition key of one line; None for a line without a readable time."""
    payload = line.rstrip(b"\r\n")
    if not payload:
        return None
    try:
        if payload.startswith(b"{"):
            record = json.loads(payload)
            stamp, offset = record["release_time"], record.get("utc_offset") or "+00:00"
            number = str(record.get("calling_number") or record.get("a_party") or "")
        else:
            cells = payload.decode().split(",")
            stamp, offset = cells[RELEASE_CSV_INDEX], cells[RELEASE_CSV_INDEX + 1] or "+00:00"
            number = cells[NUMBER_CSV_INDEX]
        when = datetime.fromisoformat(f"{stamp}{offset}")
    except (ValueError, KeyError, IndexError, UnicodeDecodeError, TypeError):
        return None
    return ReplayRecord(when.timestamp(), payload, _pseudonym(number))


def read_records(path: Path) -> list[ReplayRecord]:
    """The file's timed records, in release-time order (lines without a time are skipped)."""
    if not path.is_file():
        raise LoadgenError(f"replay file {path} does not exist; pass an NDJSON or CSV CDR file")
    with path.open("rb") as handle:
        records = [r for r in map(parse_line, handle) if r is not None]
    if not records:
        raise LoadgenError(f"replay file {path} has no record with a readable release_time")
    return sorted(records, key=lambda r: r.release_epoch_s)


def schedule(
    records: list[ReplayRecord], speed: float, max_batch: int
) -> Iterator[tuple[float, list[ReplayRecord]]]:
    """(offset_s from the start, records) batches: records due within BATCH_WINDOW_S of each other."""
    first = records[0].release_epoch_s
    batch: list[ReplayRecord] = []
    batch_due = 0.0
    for record in records:
        due = (record.release_epoch_s - first) / speed
        if batch and (due - batch_due > BATCH_WINDOW_S or len(batch) == max_batch):
            yield batch_due, batch
            batch = []
        if not batch:
            batch_due = due
        batch.append(record)
    if batch:
        yield batch_due, batch


def replay(
    path: Path,
    producer: KinesisProducer,
    *,
    speed: float,
    caps: Caps,
    recorder: LoadRecorder | None = None,
    batch_size: int = PUT_RECORDS_MAX_RECORDS,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> LoadRecorder:
    """Send the file at `speed` x; stops at the caps. Returns the per-second measurements."""
    if speed <= 0:
        raise LoadgenError(f"replay speed {speed} must be > 0 (1 = as recorded, 10 = ten times faster)")
    recorder = recorder or LoadRecorder()
    records = read_records(path)
    start = clock() + 0.2
    sent = 0
    for offset_s, batch in schedule(records, speed, batch_size):
        if offset_s > caps.max_duration_s or sent >= caps.max_records:
            break
        batch = batch[: caps.max_records - sent]
        intended = start + offset_s
        if intended > clock():
            sleep(intended - clock())
        started = clock()
        outcome = producer.put([r.payload for r in batch], [r.partition_key for r in batch])
        sent += len(batch)
        recorder.record(
            intended,
            outcome,
            started_epoch_s=started,
            finished_epoch_s=clock(),
            target_rps=0.0,
            step=0,
        )
    return recorder


def write_day_file(path: Path, synth: CdrSynthesizer, records: int, day_start_utc_s: int) -> Path:
    """A file of one synthetic day (diurnal profile, time order) to replay; one payload per line."""
    batch = synth.day(records, day_start_utc_s)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Payloads with defects may contain anything but a newline; keep only the ones that are one line.
    path.write_bytes(b"".join(p + b"\n" for p in batch.payloads if b"\n" not in p))
    return path
