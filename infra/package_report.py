"""What a built Lambda zip weighs against Lambda's limits, and how long its handler takes to import cold.

The cold start is measured the way Lambda's INIT imports the code: a fresh interpreter whose sys.path is the
unpacked zip, the runtime's boto3 and the standard library (infra/lambda_env.py), timing
`import pipeline.handler`, several times, median. It needs an interpreter of the zip's Python version on the
zip's architecture; without one the report says so and how to get one.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from capacity.quotas import LAMBDA_QUOTAS_URL, LAMBDA_UNZIPPED_CODE_BYTES, LAMBDA_ZIP_DIRECT_UPLOAD_BYTES
from infra.lambda_env import build_runtime_dir, lambda_sys_path
from infra.package import host_architecture, zip_architecture

HANDLER_MODULE = "pipeline.handler"
COLD_START_REPETITIONS = 5
_IMPORT_TIMEOUT_S = 60.0
# Runs with -I -S: no site-packages, no .pth files, no current directory; the given paths go in front of
# the interpreter's own standard library (its version may differ from this one's). And -B: /var/task is
# read-only on Lambda, so the zip's sources (it ships no bytecode) are compiled at every cold start.
_COLD_START_CODE = """\
import sys, time
sys.path[:0] = sys.argv[2:]
started = time.perf_counter()
import importlib
importlib.import_module(sys.argv[1])
print(time.perf_counter() - started)
"""
_ABI_TAG = re.compile(r"\.cpython-3(\d+)")


@dataclass(frozen=True)
class LimitCheck:
    """One of Lambda's package size limits: `{quota, used_bytes, limit_bytes, ok, source}`."""

    quota: str
    used_bytes: int
    limit_bytes: int
    source: str = LAMBDA_QUOTAS_URL

    @property
    def ok(self) -> bool:
        return self.used_bytes <= self.limit_bytes


@dataclass(frozen=True)
class ColdStart:
    """`import pipeline.handler` from the unpacked zip in fresh interpreters; median_ms None when not run."""

    median_ms: float | None
    samples_ms: tuple[float, ...] = ()
    python: str | None = None
    note: str = ""
    failed: bool = False  # the import itself failed: the zip is broken


@dataclass(frozen=True)
class PackageReport:
    path: str
    sha256: str
    entries: int
    zipped_bytes: int
    unzipped_bytes: int
    limits: tuple[LimitCheck, ...]
    cold_start: ColdStart
    top_level: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.limits) and not self.cold_start.failed


def size_checks(path: Path) -> tuple[int, int, tuple[LimitCheck, ...]]:
    """(entries, unzipped bytes, the two limit checks) of a zip."""
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    unzipped = sum(info.file_size for info in infos)
    checks = (
        LimitCheck("zipped, direct upload", path.stat().st_size, LAMBDA_ZIP_DIRECT_UPLOAD_BYTES),
        LimitCheck("unzipped", unzipped, LAMBDA_UNZIPPED_CODE_BYTES),
    )
    return len(infos), unzipped, checks


def top_level_modules(path: Path) -> tuple[str, ...]:
    """The importable top-level names the zip provides (packages and modules; no dist-info)."""
    names: set[str] = set()
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            head, _, rest = name.partition("/")
            if rest and not head.endswith((".dist-info", ".data")):
                names.add(head)
            elif not rest and name.endswith((".py", ".so")):
                names.add(name.split(".")[0])
    return tuple(sorted(names))


def zip_python_version(path: Path) -> str | None:
    """The CPython version a zip's native code was built for (from the .so ABI tags); None: pure Python."""
    with zipfile.ZipFile(path) as archive:
        minors = {int(m.group(1)) for n in archive.namelist() if (m := _ABI_TAG.search(n))}
    if len(minors) > 1:
        return None
    return f"3.{minors.pop()}" if minors else None


def find_interpreter(path: Path, python: str | None) -> tuple[str | None, str]:
    """(interpreter able to import the zip, why not when None)."""
    if python:
        return python, ""
    architecture = zip_architecture(path)
    host = host_architecture()
    if architecture is not None and architecture != host:
        return None, (
            f"the zip holds {architecture} native code and this machine is {host}: build it with "
            f"--architecture {host} to measure here"
        )
    version = zip_python_version(path)
    if version is None or version == f"{sys.version_info[0]}.{sys.version_info[1]}":
        return sys.executable, ""
    found = shutil.which(f"python{version}")
    if found and _runs_version(found, version):
        return found, ""
    return None, (
        f"the zip's native code is for Python {version} and no working python{version} is on PATH: "
        f"pass --python /path/to/python{version}"
    )


def measure_cold_start(
    path: Path, python: str | None = None, repetitions: int = COLD_START_REPETITIONS
) -> ColdStart:
    interpreter, reason = find_interpreter(path, python)
    if interpreter is None:
        return ColdStart(None, note=f"not measured: {reason}")
    with tempfile.TemporaryDirectory(prefix="cdrcap-coldstart-") as scratch:
        task_root = Path(scratch) / "task"
        with zipfile.ZipFile(path) as archive:
            archive.extractall(task_root)
        runtime_dir = build_runtime_dir(Path(scratch) / "runtime")
        search_path = lambda_sys_path(task_root, runtime_dir)[:2]
        samples = []
        for _ in range(repetitions):
            result = subprocess.run(
                [interpreter, "-I", "-S", "-B", "-c", _COLD_START_CODE, HANDLER_MODULE, *search_path],
                capture_output=True,
                text=True,
                timeout=_IMPORT_TIMEOUT_S,
                check=False,
            )
            if result.returncode != 0:
                return ColdStart(
                    None,
                    python=interpreter,
                    note=f"import {HANDLER_MODULE} failed: {result.stderr.strip().splitlines()[-1:]}",
                    failed=True,
                )
            samples.append(float(result.stdout.strip()) * 1000)
    return ColdStart(statistics.median(samples), tuple(round(s, 1) for s in samples), interpreter)


def report(path: Path, sha256: str, python: str | None = None, measure: bool = True) -> PackageReport:
    entries, unzipped, checks = size_checks(path)
    cold_start = measure_cold_start(path, python) if measure else ColdStart(None, note="not measured")
    return PackageReport(
        str(path),
        sha256,
        entries,
        path.stat().st_size,
        unzipped,
        checks,
        cold_start,
        top_level_modules(path),
    )


def _runs_version(python: str, version: str) -> bool:
    try:
        result = subprocess.run(
            [python, "-I", "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.strip() == version
