"""Per-shard progress: which records are done, the checkpoint that follows, and its file on disk.

With a parallelization factor above 1, lanes finish out of order; the shard's checkpoint only moves past a
record when every earlier record of the shard is done, so a restart re-delivers (at least once) and never
skips.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from pathlib import Path

from infra.local.esm.events import StreamRecord


class ShardProgress:
    def __init__(self, checkpoint: str | None) -> None:
        self._lock = threading.Lock()
        self._pending: deque[int] = deque()
        self._numbers: dict[int, str] = {}
        self._done: set[int] = set()
        self.checkpoint = checkpoint
        self.last_read: str | None = checkpoint

    def add(self, records: list[StreamRecord]) -> None:
        with self._lock:
            for record in records:
                self._pending.append(record.sequence_int)
                self._numbers[record.sequence_int] = record.sequence_number
            if records:
                self.last_read = records[-1].sequence_number

    def complete(self, records: list[StreamRecord]) -> None:
        with self._lock:
            self._done.update(r.sequence_int for r in records)
            while self._pending and self._pending[0] in self._done:
                number = self._pending.popleft()
                self._done.discard(number)
                self.checkpoint = self._numbers.pop(number)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending)


class CheckpointStore:
    """`{stream_arn: {shard_id: sequence_number}}` in one JSON file, replaced atomically."""

    def __init__(self, path: Path, stream_arn: str) -> None:
        self.path = path
        self.stream_arn = stream_arn
        self._saved: dict[str, str] = {}

    def load(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        document = json.loads(self.path.read_text())
        self._saved = dict(document.get(self.stream_arn, {}))
        return dict(self._saved)

    def save(self, progress: dict[str, ShardProgress]) -> None:
        current = {shard: p.checkpoint for shard, p in progress.items() if p.checkpoint is not None}
        if current == self._saved:
            return
        document = json.loads(self.path.read_text()) if self.path.exists() else {}
        document[self.stream_arn] = current
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, indent=1, sort_keys=True))
        os.replace(temporary, self.path)
        self._saved = current
