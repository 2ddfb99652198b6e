"""`make bench`: run the tests/benchmarks/bench_*.py `run()`s and update docs/benchmarks.md.

`make bench` runs the quick set (each compares side by side; the whole set stays under ~10 minutes);
`make bench-long` runs the long ones too (modules with `LONG = True`: soak, consumer modes, model
validation, the local stack end to end). Each benchmark owns one section of the doc; a run replaces the
sections it ran and keeps the others, so the two targets can be run separately.

Each benchmark compares side by side within one run and reports ratios; absolute numbers are for
orientation only (this machine is shared and noisy). A benchmark's `run()` returns a dict; a "metrics"
list of {name, value, unit, target?, met?} renders as a table, anything else as key/value lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import platform
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"
HAND_WRITTEN_MARKER = "<!-- hand-written sections below are kept by `make bench` -->"
SECTION = re.compile(r"<!-- bench:(?P<name>[\w]+) -->\n(?P<body>.*?)<!-- /bench:(?P=name) -->\n", re.S)


def machine_description() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gib = float("nan")
    return (
        f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB, "
        f"Python {platform.python_version()}"
    )


def is_long(name: str) -> bool:
    source = (Path(__file__).parent / f"{name}.py").read_text()
    return re.search(r"^LONG\s*=\s*True", source, re.M) is not None


def discover(selected: list[str], include_long: bool = False) -> list[str]:
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    if not selected and not include_long:
        names = [n for n in names if not is_long(n)]
    if selected:
        unknown = [s for s in selected if f"bench_{s}" not in names and s not in names]
        if unknown:
            raise SystemExit(f"unknown benchmark(s) {unknown}; available: {names}")
        names = [n for n in names if n in selected or n.removeprefix("bench_") in selected]
    return names


def render_result(name: str, result: dict[str, Any], elapsed_s: float) -> str:
    title = result.get("title", name)
    lines = [f"## {title}", "", f"`{name}` — took {elapsed_s:.1f} s", ""]
    metrics = result.get("metrics")
    if isinstance(metrics, list):
        lines += ["| metric | value | unit | target | met |", "|---|---:|---|---|---|"]
        for metric in metrics:
            value = metric.get("value")
            shown = f"{value:,.3g}" if isinstance(value, float) and abs(value) < 1000 else value
            if isinstance(value, float) and abs(value) >= 1000:
                shown = f"{value:,.0f}"
            met = metric.get("met")
            verdict = "" if met is None else ("yes" if met else "**no**")
            lines.append(
                f"| {metric.get('name')} | {shown} | {metric.get('unit', '')} | "
                f"{metric.get('target', '')} | {verdict} |"
            )
    for key, value in result.items():
        if key in {"title", "metrics", "notes"}:
            continue
        lines.append(f"- {key}: {value}")
    if result.get("notes"):
        lines += ["", str(result["notes"])]
    return "\n".join(lines) + "\n"


def write_doc(new_sections: dict[str, str]) -> None:
    """Replace the sections that ran, keep the others and the hand-written part after the marker."""
    existing = DOC.read_text() if DOC.exists() else ""
    generated, _, kept = existing.partition(HAND_WRITTEN_MARKER)
    sections = {m["name"]: m["body"] for m in SECTION.finditer(generated)}
    sections.update(new_sections)
    header = (
        "# Benchmarks\n\n"
        f"Sections updated by `make bench` (quick set) and `make bench-long` (soak, consumer modes, model "
        "validation, the local stack end to end); "
        f"last update {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.\n\n"
        f"Machine: {machine_description()}.\n\n"
        "Command: `make bench`, `make bench-long`, or `.venv/bin/python -m tests.benchmarks NAME...` for "
        "some. Every comparison runs side by side in one process and run; quote the ratios, not the "
        "absolute numbers (the machine is shared and noisy).\n\n"
    )
    body = "".join(
        f"<!-- bench:{name} -->\n{sections[name]}<!-- /bench:{name} -->\n" for name in sorted(sections)
    )
    DOC.write_text(header + body + "\n" + HAND_WRITTEN_MARKER + kept)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks")
    parser.add_argument("only", nargs="*", help="benchmark names (e.g. handler planner); default all")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md")
    parser.add_argument("--long", action="store_true", help="also the long benchmarks (soak, validation)")
    args = parser.parse_args(argv)
    sections: dict[str, str] = {}
    failures = 0
    for name in discover(args.only, args.long):
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"tests.benchmarks.{name}")
            result = module.run()
        except Exception:  # a broken benchmark is reported in the doc, the others still run
            failures += 1
            sections[name] = f"## {name}\n\nFAILED:\n\n```\n{traceback.format_exc()}```\n"
            print(traceback.format_exc(), file=sys.stderr)
            continue
        section = render_result(name, result, time.perf_counter() - started)
        print(section, flush=True)
        sections[name] = section
    if not args.no_write:
        write_doc(sections)
        print(f"wrote {DOC}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
