"""Build the Lambda deployment zip: pipeline/ plus its runtime dependencies for the Lambda platform.

The dependencies are the `lambda` extra of pyproject.toml (declared once; the harness installs the same list).
Same inputs, same bytes: entries are sorted, timestamps and permissions fixed, bytecode left out, and the
dependencies pinned to the versions installed beside this code, so the zip's sha256 identifies the code.
"""

from __future__ import annotations

import fnmatch
import hashlib
import platform
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from infra.errors import InfraError

# The function's runtime (infra/pipeline.yaml, Function.Runtime); wheels must match its ABI.
LAMBDA_PYTHON_VERSION = "3.12"
# The optional-dependency group of pyproject.toml that lists what is zipped (boto3 ships with the runtime).
LAMBDA_EXTRA = "lambda"
DISTRIBUTION = "cdrcap"
LAMBDA_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
HOST_ARCHITECTURES = {"aarch64": "arm64", "arm64": "arm64", "x86_64": "x86_64", "amd64": "x86_64"}
DEFAULT_ARCHITECTURE = "arm64"
# Parts of dependencies the function never imports, left out of the zip: pycrate ships compiled ASN.1 modules
# for ~90 protocols (148 MB unzipped) and the pipeline imports pycrate_asn1dir.CDR alone (pipeline/ber/), plus
# pycrate_core, pycrate_asn1rt and pycrate_asn1c. The functional test that decodes a BER CDR with the handler
# imported from the unpacked zip (tests/functional/test_local_artifact.py) fails if this cuts too deep.
DEPENDENCY_EXCLUDES = (
    "pycrate_asn1dir/*",
    *(
        f"{package}/*"
        for package in (
            "pycrate_corenet",
            "pycrate_crypto",
            "pycrate_csn1",
            "pycrate_csn1dir",
            "pycrate_diameter",
            "pycrate_ether",
            "pycrate_gmr1",
            "pycrate_gmr1_csn1",
            "pycrate_media",
            "pycrate_mobile",
            "pycrate_osmo",
            "pycrate_sys",
        )
    ),
)
DEPENDENCY_KEEPS = ("pycrate_asn1dir/__init__.py", "pycrate_asn1dir/CDR.py")

# 1980-01-01 is the earliest date a zip entry can hold; any fixed value makes the bytes reproducible.
_FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644  # regular file, rw-r--r--: Lambda only needs to read the code
_UNIX_SYSTEM = 3
_COMPRESS_LEVEL = 9
_SKIPPED_SUFFIXES = (".pyc", ".pyo")

SOURCE_ROOT = Path(__file__).resolve().parents[1]


class PackagingError(InfraError):
    """The zip could not be built; the message says which step failed and what to do."""


def lambda_requirements(source_root: Path = SOURCE_ROOT) -> list[Requirement]:
    """The `lambda` extra: from the checkout's pyproject.toml, else from the installed distribution."""
    pyproject = source_root / "pyproject.toml"
    try:
        if pyproject.is_file():
            extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
            return [Requirement(text) for text in extras[LAMBDA_EXTRA]]
        declared = [Requirement(text) for text in metadata.requires(DISTRIBUTION) or []]
    except (KeyError, tomllib.TOMLDecodeError, InvalidRequirement, metadata.PackageNotFoundError) as error:
        raise PackagingError(
            f"cannot read the [project.optional-dependencies] {LAMBDA_EXTRA} list from {pyproject} "
            f"({type(error).__name__}: {error}); it declares what the Lambda zip holds."
        ) from error
    marker_env = {"extra": LAMBDA_EXTRA}
    return [r for r in declared if r.marker is not None and r.marker.evaluate(marker_env)]


def pinned_requirements(source_root: Path = SOURCE_ROOT) -> list[str]:
    """The runtime dependencies pinned to the versions installed here: the zip reproduces this venv."""
    pins = []
    for requirement in lambda_requirements(source_root):
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError as error:
            raise PackagingError(
                f"{requirement.name} is not installed in this Python ({sys.executable}); "
                "install the project (`pip install -e .`) before packaging."
            ) from error
        if not requirement.specifier.contains(version, prereleases=True):
            raise PackagingError(
                f"{requirement.name} {version} is installed but the {LAMBDA_EXTRA} extra asks for "
                f"{requirement}; reinstall the project (`pip install -e .`) before packaging."
            )
        pins.append(f"{requirement.name}=={version}")
    return pins


def host_architecture() -> str:
    """The Lambda architecture of this machine (the local stack builds its zip for it)."""
    machine = platform.machine().lower()
    if machine not in HOST_ARCHITECTURES:
        raise PackagingError(
            f"this machine is {machine!r}; Lambda runs on {', '.join(sorted(LAMBDA_PLATFORMS))} only."
        )
    return HOST_ARCHITECTURES[machine]


def host_python_version() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def zip_name(
    architecture: str, include_dependencies: bool, python_version: str = LAMBDA_PYTHON_VERSION
) -> str:
    suffix = "" if include_dependencies else "-nodeps"
    if python_version != LAMBDA_PYTHON_VERSION:
        suffix += f"-py{python_version}"  # a local stack's build: never to be deployed
    return f"cdrcap-lambda-{architecture}{suffix}.zip"


def build_lambda_zip(
    output_dir: Path,
    *,
    include_dependencies: bool = True,
    architecture: str = DEFAULT_ARCHITECTURE,
    python_version: str = LAMBDA_PYTHON_VERSION,
    source_root: Path = SOURCE_ROOT,
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
    target = output_dir / zip_name(architecture, include_dependencies, python_version)
    with tempfile.TemporaryDirectory(prefix="cdrcap-package-") as scratch:
        entries = dict(_tree_entries(package_dir, prefix="pipeline"))
        if include_dependencies:
            deps_dir = Path(scratch) / "deps"
            _install_dependencies(deps_dir, architecture, python_version, pinned_requirements(source_root))
            entries.update(
                (name, path) for name, path in _tree_entries(deps_dir, prefix="") if not _excluded(name)
            )
        _write_zip(target, entries)
    return target


def _excluded(name: str) -> bool:
    if any(fnmatch.fnmatchcase(name, keep) for keep in DEPENDENCY_KEEPS):
        return False
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in DEPENDENCY_EXCLUDES)


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


def _install_dependencies(target_dir: Path, architecture: str, python_version: str, pins: list[str]) -> None:
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
        python_version,
        "--target",
        str(target_dir),
        *pins,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackagingError(
            f"pip could not fetch {', '.join(pins)} for {LAMBDA_PLATFORMS[architecture]} "
            f"Python {python_version} (exit {result.returncode}): {result.stderr.strip()[-800:]}. "
            "Check access to PyPI, or build with --no-dependencies to zip the sources only."
        )


def build_scaler_zip(output_dir: Path, *, source_root: Path = SOURCE_ROOT) -> Path:
    """The scaler function's zip (infra/scaler.yaml): the `scaler/` package alone, standard library only,
    with the same fixed entries as the pipeline's zip so its sha256 identifies the code."""
    package_dir = source_root / "scaler"
    if not (package_dir / "__init__.py").is_file():
        raise PackagingError(f"no scaler package at {package_dir}; run from a cdrcap checkout.")
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / "cdrcap-scaler.zip"
    _write_zip(target, dict(_tree_entries(package_dir, prefix="scaler")))
    return target


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
    """The deterministic zip of `entries` at `path`, written beside it first: never a half-written zip
    under the final name."""
    partial = path.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_FIXED_DATE_TIME)
            info.external_attr = _FILE_MODE << 16
            info.create_system = _UNIX_SYSTEM
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name].read_bytes(), compresslevel=_COMPRESS_LEVEL)
    partial.replace(path)
