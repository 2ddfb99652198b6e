"""A scratch copy of the project's config for tests that run `cdrcap` commands, so `runs/` and `.cdrcap/`
of the checkout stay clean: copy pyproject.toml (plus any extra profile), run the CLI inside the copy."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from cdrcap.cli import main

ROOT = Path(__file__).resolve().parents[2]


def scratch_project(tmp_path_factory: pytest.TempPathFactory, name: str, extra_config: str = "") -> Path:
    """A fresh directory holding the project's pyproject.toml with `extra_config` appended."""
    work = tmp_path_factory.mktemp(name)
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (work / "pyproject.toml").write_text(config + extra_config, encoding="utf-8")
    return work


def cli_in(work: Path, argv: list[str]) -> int:
    """`cdrcap ARGV` run from `work` (the CLI reads its config and writes its runs relative to the cwd)."""
    cwd = Path.cwd()
    os.chdir(work)
    try:
        return main(argv)
    finally:
        os.chdir(cwd)


def latest_run(work: Path) -> Path:
    return (work / "runs" / "latest").resolve()


def load_summary(run_dir: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    return loaded
