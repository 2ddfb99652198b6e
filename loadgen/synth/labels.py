"""Ground truth written out of band: which records are fraud or defects, and what the pipeline should do."""

from __future__ import annotations

import csv
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import TextIO

LABELS_FILE = "labels.csv"  # <run_dir>/labels.csv, merged from LABELS_DIR/labels-<worker>-<pid>.csv
LABELS_DIR = "labels"


@dataclass(frozen=True)
class Label:
    """One labelled record. `expected_reason`: a pipeline.schema.ReasonCode, "" if it must be accepted."""

    cdr_id: str
    kind: str  # "fraud" | "defect"
    scenario: str  # e.g. "wangiri", "truncated_json"
    subscriber: str  # the actor (MSISDN digits of the fraudster / subscriber), "" for defects
    episode: str  # groups the records of one fraud burst
    first_utc_s: int  # the episode's (or record's) first and last seizure time
    last_utc_s: int
    expected_reason: str


LABEL_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Label))


class LabelWriter:
    """Appends labels to `<run_dir>/labels.csv` (header once); one writer per process."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists() or path.stat().st_size == 0
        self.path = path
        self._file: TextIO = path.open("a", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        if new:
            self._writer.writerow(LABEL_COLUMNS)

    def write(self, labels: list[Label]) -> None:
        self._writer.writerows(astuple(label) for label in labels)

    def close(self) -> None:
        self._file.close()


def read_labels(path: Path) -> list[Label]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            Label(
                **{
                    **row,
                    "first_utc_s": int(row["first_utc_s"]),
                    "last_utc_s": int(row["last_utc_s"]),
                }  # type: ignore[arg-type]
            )
            for row in csv.DictReader(handle)
        ]
