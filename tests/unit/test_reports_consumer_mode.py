"""The report shows which consumer mode wins when the plan compared shared polling and enhanced fan-out."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import pytest

from reports.html import render_html
from reports.markdown import render_markdown
from reports.sample import sample_summary
from reports.summary import Summary

SENTENCE = "For e2e p99 <= 1,000 ms with 5 consumers, only enhanced fan-out meets the SLO"
COMPARISON: dict[str, Any] = {
    "shared": {
        "feasible": False,
        "monthly_cost_usd": 707.53,
        "e2e_latency_p99_ms": 1000.4,
        "best_e2e_latency_p99_ms": 1000.4,
    },
    "efo": {
        "feasible": True,
        "monthly_cost_usd": 68.34,
        "e2e_latency_p99_ms": 575.0,
        "best_e2e_latency_p99_ms": 80.0,
    },
    "winner": "efo",
    "sentence": SENTENCE,
}


@pytest.fixture
def summary(tmp_path: Path) -> Summary:
    return sample_summary(tmp_path)


def test_markdown_names_the_winning_mode_with_both_costs_and_p99s(summary: Summary) -> None:
    summary["recommendation"]["consumer_modes"] = COMPARISON
    text = render_markdown(summary, [])
    assert "### Consumer mode" in text
    assert "| efo (wins) | yes | $68.34 | 575 | 80 |" in text
    assert "| shared | no | $707.53 | 1,000 | 1,000 |" in text
    assert SENTENCE in text


def test_html_names_the_winning_mode(summary: Summary, tmp_path: Path) -> None:
    summary["recommendation"]["consumer_modes"] = COMPARISON
    page = render_html(tmp_path, summary, [])
    assert 'id="consumer-mode"' in page
    assert "efo (wins)" in page and escape(SENTENCE) in page


def test_without_a_comparison_the_section_is_left_out(summary: Summary, tmp_path: Path) -> None:
    summary["recommendation"].pop("consumer_modes", None)
    assert "Consumer mode" not in render_markdown(summary, [])
    assert "consumer-mode" not in render_html(tmp_path, summary, [])
