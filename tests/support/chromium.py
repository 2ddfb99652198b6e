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
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from reports.screenshot import HEADLESS_FLAGS as _FLAGS
from reports.screenshot import INSTALL_HINT, VIRTUAL_TIME, find_chromium

SCREENSHOT_NAME = "report_screenshot.png"
_TIMEOUT_S = 180  # a loaded 2-core machine starts Chromium slowly; this bounds a hung browser
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


# The first screen's elements (reports/html.py ids), in reading order.
FIRST_SCREEN_IDS = ("verdict", "evidence", "fig-throughput", "recommendation-card", "fig-cost")
_LAYOUT_PROBE = """
<script>
window.addEventListener("load", () => {
  const width = document.documentElement.clientWidth;
  const box = (el) => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top + window.scrollY, width: r.width, height: r.height}; };
  const first = {};
  for (const id of IDS) { const el = document.getElementById(id); first[id] = el ? box(el) : null; }
  // Wider than the viewport and not inside a box that scrolls sideways on purpose.
  const overflowing = Array.from(document.body.querySelectorAll("*"))
    .filter((el) => !el.closest(".scroll, pre") && el.getBoundingClientRect().right > width + 1)
    .map((el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : ""));
  const images = Array.from(document.images);
  const small = images.filter((img) => img.closest("#first-screen"))
    .map((img) => img.getBoundingClientRect().width);
  const result = {
    viewport_width: width,
    page_width: document.documentElement.scrollWidth,
    first_screen: first,
    overflowing: overflowing.slice(0, 20),
    images_without_alt: images.filter((img) => !(img.alt || "").trim()).length,
    first_screen_image_widths: small,
    verdict_text: (document.getElementById("verdict") || {}).innerText || "",
    evidence_text: (document.getElementById("evidence") || {}).innerText || "",
    card_text: (document.getElementById("recommendation-card") || {}).innerText || "",
  };
  const out = window.parent.document.createElement("pre");
  out.id = "cdrcap-layout";
  out.textContent = JSON.stringify(result);
  window.parent.document.body.appendChild(out);
});
</script>
"""
# Chromium's headless window is at least 500 px wide, so a phone's width is an iframe of that width: the
# report's media queries and layout see the iframe's viewport. A srcdoc frame shares the page's origin, so
# the probe inside can write its result into the page that --dump-dom prints.
_FRAME_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">
<iframe style="border:0;width:{width}px;height:900px" srcdoc="{srcdoc}"></iframe></body></html>"""


@dataclass(frozen=True)
class Box:
    left: float
    right: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class LayoutCheck:
    viewport_width: int
    page_width: int
    first_screen: dict[str, Box | None]
    overflowing: list[str]
    images_without_alt: int
    first_screen_image_widths: list[float]
    verdict_text: str
    evidence_text: str
    card_text: str


@dataclass(frozen=True)
class BrowserCheck:
    images: int
    broken: list[str]
    recommendation_rows: int
    recommendation_text: str


def chromium_or_skip() -> str:
    """The Chromium binary; a skip that says how to install it, or a failure under CI=true."""
    binary = find_chromium()
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
    done = _run(binary, scratch_dir / "profile-dom", VIRTUAL_TIME, "--dump-dom", probe.as_uri())
    match = re.search(r'<pre id="cdrcap-probe">(.*?)</pre>', done.stdout, re.DOTALL)
    if not match:
        tail = done.stderr[-2000:]
        raise AssertionError(f"Chromium printed no probe result (exit {done.returncode}): {tail}")
    return BrowserCheck(**json.loads(html.unescape(match.group(1))))


def check_layout(binary: str, report_html: Path, scratch_dir: Path, width_px: int) -> LayoutCheck:
    """Open the report in a `width_px` wide window: where the first screen's elements are, and what (if
    anything) is wider than the viewport."""
    probe_dir = scratch_dir / f"layout-{width_px}"
    probe_dir.mkdir(parents=True, exist_ok=True)
    probe = probe_dir / "probe.html"
    script = _LAYOUT_PROBE.replace("IDS", json.dumps(FIRST_SCREEN_IDS))
    report = report_html.read_text(encoding="utf-8").replace("</body>", script + "</body>")
    probe.write_text(_FRAME_PAGE.format(width=width_px, srcdoc=html.escape(report, quote=True)), "utf-8")
    done = _run(
        binary,
        scratch_dir / f"profile-layout-{width_px}",
        f"--window-size={max(width_px, 500) + 100},1000",
        VIRTUAL_TIME,
        "--dump-dom",
        probe.as_uri(),
    )
    match = re.search(r'<pre id="cdrcap-layout">(.*?)</pre>', done.stdout, re.DOTALL)
    if not match:
        raise AssertionError(f"Chromium printed no layout (exit {done.returncode}): {done.stderr[-2000:]}")
    raw = json.loads(html.unescape(match.group(1)))
    raw["first_screen"] = {k: Box(**v) if v else None for k, v in raw["first_screen"].items()}
    return LayoutCheck(**raw)


def screenshot(binary: str, report_html: Path, scratch_dir: Path) -> Path:
    """A full-width screenshot of the report's top, kept next to it in the run directory."""
    path = report_html.parent / SCREENSHOT_NAME
    done = _run(
        binary,
        scratch_dir / "profile-shot",
        "--window-size=1280,2400",
        VIRTUAL_TIME,
        f"--screenshot={path}",
        report_html.as_uri(),
    )
    if not path.exists():
        raise AssertionError(f"Chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-2000:]}")
    return path
