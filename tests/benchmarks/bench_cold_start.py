"""Cold start: the import time of `pipeline.handler` in a fresh interpreter (target <= 300 ms).

Median over RUNS fresh processes of `python -c "import pipeline.handler"` minus the median of a bare
`python -c pass` (interpreter start-up and site, which Lambda pays before our code either way); plus
the first-call initialisation our handler adds on top (configuration + the four boto3 clients), and the
largest imports by `python -X importtime`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

RUNS = 9
TARGET_IMPORT_MS = 300.0
ROOT = Path(__file__).resolve().parents[2]
# Enough for load_config() and boto3 client construction; nothing connects anywhere.
CONFIGURE_ENV = {
    "CDRCAP_OUTPUT_STREAM": "out",
    "CDRCAP_AGGREGATES_TABLE": "aggregates",
    "CDRCAP_ARCHIVE_BUCKET": "archive",
    "CDRCAP_DLQ_URL": "http://127.0.0.1:9/queue",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
}


def median_ms(code: str, env: dict[str, str] | None = None) -> float:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def top_imports(module: str, count: int = 6) -> list[str]:
    """The `count` largest cumulative import times (µs) below `module` from `python -X importtime`."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].strip()))
    rows.sort(reverse=True)
    return [f"{name} {cumulative_us / 1000:.0f} ms" for cumulative_us, name in rows[:count]]


def run() -> dict[str, Any]:
    env = {**os.environ, **CONFIGURE_ENV}
    bare_ms = median_ms("pass")
    import_ms = median_ms("import pipeline.handler") - bare_ms
    configured_ms = median_ms("import pipeline.handler as h; h.configure()", env) - bare_ms
    return {
        "title": "Cold start: import of pipeline.handler in a fresh interpreter",
        "metrics": [
            {
                "name": "import pipeline.handler (median, minus bare interpreter)",
                "value": round(import_ms, 1),
                "unit": "ms",
                "target": f"<= {TARGET_IMPORT_MS:g}",
                "met": import_ms <= TARGET_IMPORT_MS,
            },
            {
                "name": "import + configure() with the AWS stores (boto3 clients)",
                "value": round(configured_ms, 1),
                "unit": "ms",
            },
            {"name": "bare interpreter start (subtracted)", "value": round(bare_ms, 1), "unit": "ms"},
        ],
        "largest_imports": "; ".join(top_imports("pipeline.handler")),
        "notes": f"Median of {RUNS} fresh processes each. boto3 is imported only by configure() when no "
        "stores are injected (pipeline/handler.py), so it is not part of the module import.",
    }


if __name__ == "__main__":
    print(orjson.dumps(run(), option=orjson.OPT_INDENT_2).decode())
