"""Security scan of the CloudFormation templates with checkov, run from its own venv (.venv-scan/).

checkov pins boto3/botocore 1.35 and older packaging/networkx, which would pull the project's own versions
down, so it lives beside the project like MiniStack. `python -m infra.scan --bootstrap infra/*.yaml` creates
that venv when missing, scans, prints every failed check and exits 1 if any failed. Offline checkov reports
no severities, so every failed check counts; accepted risks are skipped in the template's Metadata with a
written justification (checkov prints them as skipped).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.errors import InfraError

CHECKOV_VERSION = "3.3.30"
ENV_CHECKOV_BIN = "CDRCAP_CHECKOV_BIN"
SCAN_VENV = Path(__file__).resolve().parents[1] / ".venv-scan"


class ScanError(InfraError):
    """checkov could not be found, installed or run; the message says how to get it."""


@dataclass(frozen=True)
class Finding:
    check_id: str
    check_name: str
    resource: str
    file_path: str
    justification: str = ""  # set for skipped checks: the template's comment


@dataclass(frozen=True)
class ScanResult:
    passed: int
    failed: tuple[Finding, ...]
    skipped: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.failed


def find_checkov() -> Path | None:
    explicit = os.environ.get(ENV_CHECKOV_BIN)
    candidates = [Path(explicit)] if explicit else []
    candidates.append(SCAN_VENV / "bin" / "checkov")
    on_path = shutil.which("checkov")
    if on_path:
        candidates.append(Path(on_path))
    return next((path for path in candidates if path.is_file() and os.access(path, os.X_OK)), None)


def bootstrap_checkov(venv: Path = SCAN_VENV) -> Path:
    """Create `venv` with the pinned checkov (needs PyPI once); return the executable."""
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"checkov=={CHECKOV_VERSION}",
        ],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ScanError(f"could not install checkov into {venv}: {result.stderr.strip()[-600:]}")
    return venv / "bin" / "checkov"


def parse_report(document: Any) -> ScanResult:
    """checkov's `-o json` output: one report object, or a list of them (one per framework)."""
    reports = document if isinstance(document, list) else [document]
    passed, failed, skipped = 0, [], []
    for report in reports:
        if not isinstance(report, dict) or "results" not in report:
            continue  # an empty scan prints a summary without results
        passed += len(report["results"].get("passed_checks", []))
        failed += [_finding(check) for check in report["results"].get("failed_checks", [])]
        skipped += [_finding(check) for check in report["results"].get("skipped_checks", [])]
    return ScanResult(passed=passed, failed=tuple(failed), skipped=tuple(skipped))


def scan(templates: Sequence[Path], checkov: Path) -> ScanResult:
    command = [
        str(checkov),
        "--framework",
        "cloudformation",
        "--output",
        "json",
        "--skip-download",
    ]
    for template in templates:
        command += ["--file", str(template)]
    # --skip-download keeps checkov offline (it would otherwise call the Prisma Cloud API for metadata).
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise ScanError(
            f"checkov printed no JSON (exit {result.returncode}): {result.stderr.strip()[-600:]}"
        ) from error
    parsed = parse_report(document)
    if parsed.passed + len(parsed.failed) + len(parsed.skipped) == 0:
        raise ScanError(
            f"checkov ran no checks on {', '.join(map(str, templates))}: {result.stderr.strip()[-300:]}"
        )
    return parsed


def _finding(check: dict[str, Any]) -> Finding:
    suppress = check.get("check_result", {}).get("suppress_comment", "")
    return Finding(
        check_id=str(check.get("check_id", "?")),
        check_name=str(check.get("check_name", "")),
        resource=str(check.get("resource", "?")),
        file_path=str(check.get("file_path", "?")),
        justification=str(suppress or ""),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.scan", description=__doc__)
    parser.add_argument("templates", nargs="+", type=Path)
    parser.add_argument(
        "--bootstrap", action="store_true", help=f"install checkov into {SCAN_VENV} if missing"
    )
    args = parser.parse_args(argv)
    checkov = find_checkov() or (bootstrap_checkov() if args.bootstrap else None)
    if checkov is None:
        print(
            f"checkov not found: run `python -m infra.scan --bootstrap ...` or set {ENV_CHECKOV_BIN}.",
            file=sys.stderr,
        )
        return 2
    result = scan(args.templates, checkov)
    for finding in result.skipped:
        print(f"skipped {finding.check_id} {finding.resource}: {finding.justification}")
    for finding in result.failed:
        print(f"FAILED  {finding.check_id} {finding.resource} ({finding.file_path}): {finding.check_name}")
    print(f"checkov: {result.passed} passed, {len(result.failed)} failed, {len(result.skipped)} skipped")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
