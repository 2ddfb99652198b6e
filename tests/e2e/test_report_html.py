"""The HTML report of a (synthetic) run opened in headless Chromium: every image loads, the recommendation
table is there, the first screen answers the release question at a phone's and a desktop's width without
anything overflowing, and a screenshot stays in the run directory."""

from itertools import pairwise
from pathlib import Path

import pytest
from PIL import Image

from reports.plots import PLOTS
from reports.render import render_run
from reports.sample import write_sample_run
from reports.screenshot import main as screenshot_main
from tests.support.chromium import FIRST_SCREEN_IDS, check_layout, check_report, chromium_or_skip, screenshot

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


@pytest.mark.parametrize("width_px", [390, 1200])
def test_the_first_screen_answers_the_release_question_at_phone_and_desktop_width(
    report_html: Path, tmp_path: Path, width_px: int
) -> None:
    # Given a rendered report and a browser window of a phone's or a desktop's width
    chromium = chromium_or_skip()
    # When Chromium lays it out
    layout = check_layout(chromium, report_html, tmp_path, width_px)
    # Then nothing is wider than the viewport (wide tables scroll inside their own box)
    assert layout.viewport_width == width_px
    assert layout.page_width <= width_px, layout.overflowing
    assert layout.overflowing == []
    # And every first-screen element is there, visible, inside the viewport, in reading order
    boxes = []
    for element_id in FIRST_SCREEN_IDS:
        box = layout.first_screen[element_id]
        assert box is not None, f"#{element_id} is missing"
        assert box.width > 0 and box.height > 0, f"#{element_id} is not visible"
        assert box.left >= 0 and box.right <= width_px, f"#{element_id} overflows: {box}"
        boxes.append(box)
    # (side by side on a desktop, so "in order" allows the small offset of a card's border)
    tops = [box.top for box in boxes]
    assert all(earlier <= later + 20 for earlier, later in pairwise(tops)), tops
    # And the plots are shown large enough to read (the whole column)
    assert min(layout.first_screen_image_widths) >= min(300, width_px - 40)
    # And every image has alt text, the verdict names what fails, the card the output shards
    assert layout.images_without_alt == 0
    assert "FAIL" in layout.verdict_text and "SLO" in layout.verdict_text
    assert "dynamodb" in layout.verdict_text
    assert "Scale model on an emulator" in layout.evidence_text
    assert "output shards" in layout.card_text


def test_the_desktop_first_screen_shows_verdict_throughput_card_and_cost_together(
    report_html: Path, tmp_path: Path
) -> None:
    chromium = chromium_or_skip()
    layout = check_layout(chromium, report_html, tmp_path, 1200)
    # Everything the release question needs starts within the first 900 px of a 1200 px wide window.
    for element_id in FIRST_SCREEN_IDS:
        box = layout.first_screen[element_id]
        assert box is not None and box.top < 900, f"#{element_id} starts below the first screen: {box}"


def test_the_overflow_check_catches_an_element_wider_than_a_phone(report_html: Path, tmp_path: Path) -> None:
    # Given a copy of the report with one element wider than the viewport (the check's own control)
    chromium = chromium_or_skip()
    wide = tmp_path / "wide" / "report.html"
    wide.parent.mkdir()
    wide.write_text(
        report_html.read_text().replace("<nav>", '<div id="too-wide" style="width:900px">x</div><nav>')
    )
    # When laid out at 390 px Then the probe names it
    layout = check_layout(chromium, wide, tmp_path, 390)
    assert "div#too-wide" in layout.overflowing
    assert layout.page_width > 390


def test_make_screenshot_writes_a_small_png_of_the_first_screen(report_html: Path, tmp_path: Path) -> None:
    # Given a run directory with a report and a browser
    chromium_or_skip()
    out = tmp_path / "img" / "report.png"
    # When `make screenshot`'s command runs on it
    code = screenshot_main([str(report_html.parent), "--out", str(out), "--width", "1200", "--height", "900"])
    # Then it wrote a palette PNG of the window's size, small enough to commit
    assert code == 0
    with Image.open(out) as image:
        assert image.size == (1200, 900)
        assert image.mode == "P"
    assert out.stat().st_size < 400 * 1024


def test_make_screenshot_without_a_run_is_a_usage_error(tmp_path: Path) -> None:
    chromium_or_skip()
    assert screenshot_main([str(tmp_path / "no-run"), "--out", str(tmp_path / "x.png")]) == 2
    assert not (tmp_path / "x.png").exists()
