"""A PNG of a report's first screen, taken with headless Chromium: the README's picture (`make screenshot`).

    python -m reports.screenshot [RUN] [--out docs/img/report.png] [--width 1200] [--height 900]

RUN is a run directory (default runs/latest); its report.html is re-rendered first, so the picture shows the
current report code. The PNG is reduced to a 256-colour palette: a screenshot of text and flat plots loses
nothing visible, and the file stays small enough to commit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from reports.errors import ReportInputError
from reports.render import render_run

INSTALL_HINT = (
    "install it with `sudo apt-get install -y chromium` (Debian/Ubuntu) "
    "or set CDRCAP_CHROMIUM=/path/to/chrome"
)
_TIMEOUT_S = 180  # a loaded 2-core machine starts Chromium slowly; this bounds a hung browser
# Headless, no network of its own, no first-run or sync work (the e2e browser tests use the same flags).
HEADLESS_FLAGS = (
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
# Let the page's load event run before Chromium takes the screenshot.
VIRTUAL_TIME = "--virtual-time-budget=15000"


def find_chromium() -> str | None:
    """CDRCAP_CHROMIUM, else chromium or chromium-browser on PATH."""
    return os.environ.get("CDRCAP_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def take(binary: str, report_html: Path, out: Path, width_px: int, height_px: int) -> Path:
    """Screenshot the top `width_px` x `height_px` of report_html into `out` (palette PNG)."""
    with tempfile.TemporaryDirectory(prefix="cdrcap-shot-") as scratch:
        raw = Path(scratch) / "shot.png"
        command = [
            binary,
            *HEADLESS_FLAGS,
            VIRTUAL_TIME,
            f"--user-data-dir={scratch}/profile",
            f"--window-size={width_px},{height_px}",
            f"--screenshot={raw}",
            report_html.resolve().as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
        if not raw.exists():
            raise ReportInputError(
                f"Chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-800:]}"
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(raw) as image:
            image.convert("RGB").quantize(colors=256).save(out, format="PNG", optimize=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.screenshot", description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path, default=Path("runs/latest"), help="run directory")
    parser.add_argument("--out", type=Path, default=Path("docs/img/report.png"))
    parser.add_argument("--width", type=int, default=1200, help="window width in px (default 1200)")
    parser.add_argument("--height", type=int, default=900, help="window height in px (default 900)")
    args = parser.parse_args(argv)
    binary = find_chromium()
    if binary is None:
        print(f"reports.screenshot: headless Chromium not found: {INSTALL_HINT}", file=sys.stderr)
        return 2
    if not (args.run / "summary.json").is_file():
        print(
            f"reports.screenshot: {args.run}/summary.json not found; run `make demo` first", file=sys.stderr
        )
        return 2
    try:
        render_run(args.run)
        path = take(binary, args.run / "report.html", args.out, args.width, args.height)
    except ReportInputError as error:
        print(f"reports.screenshot: {error}", file=sys.stderr)
        return 2
    print(
        f"{path}: {path.stat().st_size / 1024:,.0f} KiB, the first {args.height} px at {args.width} px wide"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
