"""The local stack's Lambda artifact: the deployment zip built for this host, unpacked as the task root.

The zip is infra.package's, with the `lambda` extra fetched for this machine's architecture and Python (the
deployed function runs python3.12 on arm64 or x86_64; native wheels must match the interpreter that imports
them, so locally they are this interpreter's). Built once per set of inputs (pipeline/ sources, pinned
dependencies, platform) into the cache directory, so a repeated `cdrcap up` reuses it; unpacked into the
stack's state dir, where the local runtime's workers import the handler from it (infra/lambda_env.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from infra import lambda_env, package

CACHE_DIR_ENV = "CDRCAP_CACHE_DIR"
TASK_ROOT = "task"  # under the state dir: the function's /var/task
RUNTIME_DIR = "lambda-runtime"  # under the state dir: what the runtime provides (boto3 and its dependencies)
_UNPACKED_MARKER = "task.sha256"  # beside the task root, not in it: the function sees only the zip


@dataclass(frozen=True)
class Artifact:
    zip_path: Path
    sha256: str
    task_root: Path
    runtime_dir: Path


def cache_dir() -> Path:
    """$CDRCAP_CACHE_DIR, else $XDG_CACHE_HOME/cdrcap, else ~/.cache/cdrcap."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cdrcap"


def inputs_key(source_root: Path, pins: list[str], architecture: str, python_version: str) -> str:
    """A digest of everything the zip's bytes depend on: same key, same zip."""
    digest = hashlib.sha256()
    for part in (
        *pins,
        architecture,
        python_version,
        *package.DEPENDENCY_EXCLUDES,
        *package.DEPENDENCY_KEEPS,
    ):
        digest.update(part.encode() + b"\0")
    digest.update(Path(package.__file__).read_bytes())  # how the zip is built
    pipeline_dir = source_root / "pipeline"
    for path in sorted(pipeline_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
            digest.update(path.relative_to(source_root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def host_zip(cache: Path | None = None, source_root: Path = package.SOURCE_ROOT) -> Path:
    """The zip for this host, built on the first call for these inputs and reused after."""
    architecture, python_version = package.host_architecture(), package.host_python_version()
    key = inputs_key(source_root, package.pinned_requirements(source_root), architecture, python_version)
    build_dir = (cache or cache_dir()) / "lambda" / key[:24]
    zip_path = build_dir / package.zip_name(architecture, True, python_version)
    if not zip_path.is_file():
        package.build_lambda_zip(
            build_dir, architecture=architecture, python_version=python_version, source_root=source_root
        )
    return zip_path


def unpack(zip_path: Path, state_dir: Path) -> Artifact:
    """Unpack the zip as `state_dir/task` (skipped when that zip is already there) beside the runtime dir."""
    sha256 = package.sha256_of(zip_path)
    task_root, marker = state_dir / TASK_ROOT, state_dir / _UNPACKED_MARKER
    if not (task_root.is_dir() and marker.is_file() and marker.read_text() == sha256):
        shutil.rmtree(task_root, ignore_errors=True)
        marker.unlink(missing_ok=True)
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(task_root)
        marker.write_text(sha256)
    runtime_dir = lambda_env.build_runtime_dir(state_dir / RUNTIME_DIR)
    return Artifact(zip_path, sha256, task_root, runtime_dir)


def prepare(state_dir: Path, cache: Path | None = None, zip_path: Path | None = None) -> Artifact:
    """The task root the local stack runs: `zip_path` when given (a test's own zip), else the host's build."""
    return unpack(zip_path or host_zip(cache), state_dir)
