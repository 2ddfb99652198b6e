"""Build the Lambda deployment zip: pipeline/ plus its runtime dependencies for the Lambda platform.

Same inputs, same bytes: entries are sorted, timestamps and permissions fixed, bytecode left out, and the
dependencies pinned to the versions installed beside this code, so the zip's sha256 identifies the code.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from infra.errors import InfraError

# The function's runtime (infra/pipeline.yaml, Function.Runtime); wheels must match its ABI.
LAMBDA_PYTHON_VERSION = "3.12"
# boto3 ships with the Lambda runtime, so only these are zipped.
RUNTIME_DEPENDENCIES = ("phonenumbers", "orjson")
LAMBDA_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
DEFAULT_ARCHITECTURE = "arm64"

# 1980-01-01 is the earliest date a zip entry can hold; any fixed value makes the bytes reproducible.
_FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644  # regular file, rw-r--r--: Lambda only needs to read the code
_UNIX_SYSTEM = 3
_COMPRESS_LEVEL = 9
_SKIPPED_SUFFIXES = (".pyc", ".pyo")

_SOURCE_ROOT = Path(__file__).resolve().parents[1]


class PackagingError(InfraError):
    """The zip could not be built; the message says which step failed and what to do."""


def pinned_requirements() -> list[str]:
    """The runtime dependencies pinned to the versions installed here: the zip reproduces this venv."""
    pins = []
    for name in RUNTIME_DEPENDENCIES:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError as error:
            raise PackagingError(
                f"{name} is not installed in this Python ({sys.executable}); "
                "install the project (`pip install -e .`) before packaging."
            ) from error
    return pins


def zip_name(architecture: str, include_dependencies: bool) -> str:
    suffix = "" if include_dependencies else "-nodeps"
    return f"cdrcap-lambda-{architecture}{suffix}.zip"


def build_lambda_zip(
    output_dir: Path,
    *,
    include_dependencies: bool = True,
    architecture: str = DEFAULT_ARCHITECTURE,
    source_root: Path = _SOURCE_ROOT,
) -> Path:
    """Write the deterministic Lambda zip into `output_dir` and return its path."""
    if architecture not in LAMBDA_PLATFORMS:
        raise PackagingError(
            f"architecture {architecture!r} is not a Lambda architecture; use one of "
            f"{', '.join(sorted(LAMBDA_PLATFORMS))}."
        )
    package_dir = source_root / "pipeline"
    if not (package_dir / "__init__.py").is_file():
        raise PackagingError(f"no pipeline package at {package_dir}; run from a cdrcap checkout.")
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / zip_name(architecture, include_dependencies)
    with tempfile.TemporaryDirectory(prefix="cdrcap-package-") as scratch:
        entries = dict(_tree_entries(package_dir, prefix="pipeline"))
        if include_dependencies:
            deps_dir = Path(scratch) / "deps"
            _install_dependencies(deps_dir, architecture)
            entries.update(_tree_entries(deps_dir, prefix=""))
        partial = target.with_suffix(".zip.partial")
        _write_zip(partial, entries)
        partial.replace(target)  # never leave a half-written zip under the final name
    return target


def zip_architecture(path: Path) -> str | None:
    """The Lambda architecture a zip's native wheels were built for; None when it has none (pure Python)."""
    machine_tags = {"aarch64": "arm64", "x86_64": "x86_64"}
    found = set()
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith(".so"):
                found |= {arch for tag, arch in machine_tags.items() if tag in name.rsplit("/", 1)[-1]}
    if len(found) > 1:
        raise PackagingError(f"{path} mixes native code for {' and '.join(sorted(found))}; rebuild it.")
    return found.pop() if found else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _install_dependencies(target_dir: Path, architecture: str) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--only-binary=:all:",
        "--platform",
        LAMBDA_PLATFORMS[architecture],
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--target",
        str(target_dir),
        *pinned_requirements(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackagingError(
            f"pip could not fetch {', '.join(pinned_requirements())} for {LAMBDA_PLATFORMS[architecture]} "
            f"Python {LAMBDA_PYTHON_VERSION} (exit {result.returncode}): {result.stderr.strip()[-800:]}. "
            "Check access to PyPI, or build with --no-dependencies to zip the sources only."
        )


def _tree_entries(root: Path, *, prefix: str) -> Iterator[tuple[str, Path]]:
    """(archive name, file) for every file under `root`, skipping bytecode and console scripts."""
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if not path.is_file() or "__pycache__" in relative.parts:
            continue
        if not prefix and relative.parts[0] == "bin":  # pip's console scripts: not importable code
            continue
        if path.suffix in _SKIPPED_SUFFIXES:
            continue
        name = relative.as_posix()
        yield (f"{prefix}/{name}" if prefix else name), path


def _write_zip(path: Path, entries: dict[str, Path]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_FIXED_DATE_TIME)
            info.external_attr = _FILE_MODE << 16
            info.create_system = _UNIX_SYSTEM
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name].read_bytes(), compresslevel=_COMPRESS_LEVEL)
