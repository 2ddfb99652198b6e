"""Open a report.html in headless Chromium: which images loaded, whether the recommendation table is there,
and a screenshot. Reusable by any e2e test that has a run directory (the synthetic one or a real run).

The probe is a copy of the report with a small script appended that writes its findings into the DOM;
`--dump-dom` prints the DOM after load, so no debugging protocol is needed. The copy lives in another
folder, so a report that referenced a file next to it would show a broken image: that checks it is
self-contained too.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

INSTALL_HINT = (
    "install it with `sudo apt-get install -y chromium` (Debian/Ubuntu) "
    "or set CDRCAP_CHROMIUM=/path/to/chrome"
)
SCREENSHOT_NAME = "report_screenshot.png"
_TIMEOUT_S = 180  # a loaded 2-core machine starts Chromium slowly; this bounds a hung browser
# Let the page's load event (and the probe) run before Chromium dumps the DOM or takes the screenshot.
_VIRTUAL_TIME = "--virtual-time-budget=15000"
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)
_PROBE = """
<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const table = document.querySelector("table#recommendation");
  const result = {
    images: images.length,
    broken: images.filter((img) => !(img.complete && img.naturalWidth > 0)).map((img) => img.alt),
    recommendation_rows: table ? table.querySelectorAll("tbody tr").length : 0,
    recommendation_text: table ? table.innerText : "",
  };
  const out = document.createElement("pre");
  out.id = "cdrcap-probe";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>
"""


@dataclass(frozen=True)
class BrowserCheck:
    images: int
    broken: list[str]
    recommendation_rows: int
    recommendation_text: str


def chromium_or_skip() -> str:
    """The Chromium binary; a skip that says how to install it, or a failure under CI=true."""
    binary = os.environ.get("CDRCAP_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if binary:
        return binary
    message = f"headless Chromium not found: {INSTALL_HINT}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: a missing browser is a failure, .ci/run installs it)")
    pytest.skip(message)


def _run(binary: str, profile_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [binary, *_FLAGS, f"--user-data-dir={profile_dir}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)


def check_report(binary: str, report_html: Path, scratch_dir: Path) -> BrowserCheck:
    probe_dir = scratch_dir / "probe"
    probe_dir.mkdir(parents=True, exist_ok=True)
    probe = probe_dir / "probe.html"
    probe.write_text(report_html.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"), "utf-8")
    done = _run(binary, scratch_dir / "profile-dom", _VIRTUAL_TIME, "--dump-dom", probe.as_uri())
    match = re.search(r'<pre id="cdrcap-probe">(.*?)</pre>', done.stdout, re.DOTALL)
    if not match:
        tail = done.stderr[-2000:]
        raise AssertionError(f"Chromium printed no probe result (exit {done.returncode}): {tail}")
    return BrowserCheck(**json.loads(html.unescape(match.group(1))))


def screenshot(binary: str, report_html: Path, scratch_dir: Path) -> Path:
    """A full-width screenshot of the report's top, kept next to it in the run directory."""
    path = report_html.parent / SCREENSHOT_NAME
    done = _run(
        binary,
        scratch_dir / "profile-shot",
        "--window-size=1280,2400",
        _VIRTUAL_TIME,
        f"--screenshot={path}",
        report_html.as_uri(),
    )
    if not path.exists():
        raise AssertionError(f"Chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-2000:]}")
    return path
