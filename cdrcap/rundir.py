"""A run's directory and metadata: run id, runs/<id>/ with data/, the runs/latest link, and the versions,
git commit, config and target that go into summary.json (never credentials).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from cdrcap import __version__
from cdrcap.config import Config, Profile, Target
from cdrcap.errors import CdrcapError
from reports.scrub import scrub, scrub_text

LATEST = "latest"
_GIT_TIMEOUT_S = 5


def new_run_id(profile_name: str, now: dt.datetime | None = None) -> str:
    """`20261126T035500Z-demo`: sorts by time, says what ran."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{profile_name}"


def create_run_dir(runs_dir: Path, profile_name: str, *, now: dt.datetime | None = None) -> Path:
    """Make runs_dir/<run-id>/data (a suffix keeps two runs in one second apart) and point latest at it."""
    base = new_run_id(profile_name, now)
    for attempt in range(100):
        run_dir = runs_dir / (base if attempt == 0 else f"{base}-{attempt}")
        try:
            run_dir.mkdir(parents=True)
        except FileExistsError:
            continue
        (run_dir / "data").mkdir()
        update_latest(runs_dir, run_dir)
        return run_dir
    raise CdrcapError(f"{runs_dir}: could not create a fresh run directory for {base}; clean up old runs")


def update_latest(runs_dir: Path, run_dir: Path) -> Path:
    """Point runs_dir/latest at run_dir (relative link, swapped atomically so readers never see none)."""
    link = runs_dir / LATEST
    staging = runs_dir / f".{LATEST}.{os.getpid()}"
    staging.unlink(missing_ok=True)
    staging.symlink_to(run_dir.name, target_is_directory=True)
    os.replace(staging, link)
    return link


def resolve_run(path: Path) -> Path:
    """A run directory, `runs/latest`, or a summary.json inside one -> the run directory."""
    resolved = path.resolve()
    return resolved.parent if resolved.is_file() else resolved


def _version_of(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _ministack_version() -> str | None:
    """MiniStack lives in its own venv (.venv-emu): read its dist-info next to the binary we run."""
    binary = os.environ.get("CDRCAP_MINISTACK_BIN")
    if not binary:
        return None
    venv = Path(binary).resolve().parent.parent
    for dist_info in venv.glob("lib/python*/site-packages/ministack-*.dist-info"):
        return dist_info.name.removeprefix("ministack-").removesuffix(".dist-info")
    return None


def versions() -> dict[str, str | None]:
    return {
        "cdrcap": __version__,
        "python": platform.python_version(),
        "boto3": _version_of("boto3") or "absent",
        "ministack": _ministack_version(),
    }


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=_GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_commit(cwd: Path) -> tuple[str | None, bool]:
    """(HEAD commit or None outside a repository, whether the work tree has uncommitted changes)."""
    commit = _git(["rev-parse", "HEAD"], cwd)
    dirty = bool(_git(["status", "--porcelain", "--untracked-files=no"], cwd)) if commit else False
    return commit, dirty


def target_info(target: Target) -> dict[str, Any]:
    """The summary's target block: where the run went, never how it authenticated."""
    return {
        "name": target.name,
        "region": target.region,
        "is_local": target.is_local,
        "endpoint_url": scrub_text(target.endpoint_url) if target.endpoint_url else None,
    }


def run_metadata(
    config: Config, target: Target, profile: Profile, *, cwd: Path | None = None
) -> dict[str, Any]:
    """The summary.json keys this module owns: target, versions, git_commit (+ git_dirty), config."""
    commit, dirty = git_commit(cwd or Path.cwd())
    return {
        "target": target_info(target),
        "versions": versions(),
        "git_commit": commit,
        "git_dirty": dirty,
        "config": scrub({"profile": profile.to_dict(), "target": target.name, "file": config.to_dict()}),
    }
