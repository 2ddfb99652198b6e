"""The emulator fast paths against MiniStack as shipped, in MiniStack's own interpreter."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from infra.local.emulator import find_ministack_bin

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "tests" / "support" / "fastpath_check.py"


def test_memoised_updates_and_item_sizes_match_ministack_as_shipped() -> None:
    # Given MiniStack's interpreter with this checkout importable
    python = find_ministack_bin().parent / "python"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    # When the check applies updates (and one refused update) three times through the memoised functions
    result = subprocess.run(
        [str(python), str(CHECK)], env=env, capture_output=True, text=True, timeout=120, check=False
    )

    # Then every result, error and size equals the shipped function's, hits and misses alike
    assert result.returncode == 0, result.stdout + result.stderr
