"""The HTML report of a (synthetic) run opened in headless Chromium: every image loads, the recommendation
table is there, and a screenshot stays in the run directory."""

from pathlib import Path

import pytest

from reports.plots import PLOTS
from reports.render import render_run
from reports.sample import write_sample_run
from tests.e2e.chromium import check_report, chromium_or_skip, screenshot

pytestmark = pytest.mark.e2e

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = write_sample_run(tmp_path_factory.mktemp("runs") / "20261126T000000Z-demo")
    render_run(run_dir)
    return run_dir / "report.html"


def test_every_image_loads_and_the_recommendation_table_shows(report_html: Path, tmp_path: Path) -> None:
    # Given a rendered report and a browser
    chromium = chromium_or_skip()
    # When Chromium opens a copy of it from another folder
    result = check_report(chromium, report_html, tmp_path)
    # Then every plot loaded and the recommendation table has its rows
    assert result.images == len(PLOTS)
    assert result.broken == []
    assert result.recommendation_rows >= 7
    assert "ShardCount" in result.recommendation_text


def test_a_screenshot_is_kept_in_the_run_directory(report_html: Path, tmp_path: Path) -> None:
    chromium = chromium_or_skip()
    path = screenshot(chromium, report_html, tmp_path)
    assert path.parent == report_html.parent
    assert path.read_bytes()[:8] == PNG_MAGIC
