"""The HTML report opened in a real headless Chromium (Debian's, driven by Playwright):
no errors, no network, every section visible, every chart drawn.  Each test saves a
full-page screenshot in its tmp dir, and in $PERFDOCTOR_SCREENSHOT_DIR when set."""

from __future__ import annotations

import io
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfdoctor.analysis.analyze import analyze
from perfdoctor.report import render
from perfdoctor.report.html import MAX_WATERFALL_SPANS
from perfdoctor.settings import Settings
from tests.report_html.support import HOSTILE, Report, finding_for, hostile_trace, huge_trace

# Pixels a chart drew on its canvas (alpha > 0): a blank canvas has none.
PAINTED = """canvas => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
  return painted;
}"""



@dataclass
class Opened:
    page: Any
    problems: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def open_report(browser: Any, path: Path, width: int = 1280) -> Opened:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    opened = Opened(page)
    page.on(
        "console",
        lambda m: (
            opened.problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda e: opened.problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: opened.problems.append(f"request failed: {r.url}"))
    page.on("request", lambda r: opened.requests.append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("window.perfdoctorCharts !== undefined")
    return opened


def screenshot(opened: Opened, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / f"{name}.png"
    opened.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    folder = os.environ.get("PERFDOCTOR_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(folder) / shot.name)
    return shot


def assert_clean(opened: Opened, path: Path) -> None:
    assert opened.problems == []
    # Offline: the file itself, nothing else (no CDN script, font, image or fetch).
    assert opened.requests == [path.as_uri()]


def test_the_demo_report_in_chromium(browser: Any, demo_report: Report, tmp_path: Path) -> None:
    opened = open_report(browser, demo_report.path)
    page = opened.page
    for section in ("before-after", "endpoints", "findings", "breakdown", "latency", "budgets"):
        assert page.locator(f"section#{section}").is_visible(), section
    assert page.locator("#endpoint-table tbody tr").count() == len(demo_report.data()["histograms"])
    cards = page.locator("details.finding")
    assert cards.count() >= 20
    # Every finding that names an endpoint shows a drawn waterfall of one of its requests.
    waterfalls = page.locator("canvas.waterfall-chart")
    assert waterfalls.count() == len(demo_report.data()["waterfalls"]) >= 20
    for i in range(waterfalls.count()):
        canvas = waterfalls.nth(i)
        canvas.scroll_into_view_if_needed()
        assert canvas.is_visible()
        anchor = canvas.get_attribute("data-finding")
        bars = page.evaluate(
            "key => window.perfdoctorCharts['waterfall:' + key].getDatasetMeta(0).data.length",
            anchor,
        )
        # The request's own bar plus one per span drawn.
        assert bars == len(demo_report.data()["waterfalls"][anchor]["spans"]) + 1
        assert canvas.evaluate(PAINTED) > 1000, anchor
        box = canvas.bounding_box()
        assert box is not None and box["height"] >= 20 * bars
    for selector in ("#breakdown-chart", "#compare-chart"):
        canvas = page.locator(selector)
        canvas.scroll_into_view_if_needed()
        assert canvas.is_visible() and canvas.evaluate(PAINTED) > 1000, selector
    histograms = page.locator("canvas.histogram-chart")
    assert histograms.count() == len(demo_report.data()["histograms"])
    for i in range(histograms.count()):
        assert histograms.nth(i).evaluate(PAINTED) > 500
    assert page.locator("#before-after .verdict-faster").first.is_visible()
    assert page.locator("#budget-table").is_visible()
    screenshot(opened, tmp_path, "demo-report")
    assert_clean(opened, demo_report.path)


def test_findings_collapse_and_a_link_opens_one(
    browser: Any, demo_report: Report, tmp_path: Path
) -> None:
    page = open_report(browser, demo_report.path).page
    page.click("#collapse-all")
    assert page.locator("details.finding[open]").count() == 0
    page.click('#finding-index a[href="#finding-2"] >> nth=0')
    # The page opens the finding on "hashchange", an event the browser queues
    # after the click returns: wait for it rather than read the attribute at once.
    page.wait_for_selector("details#finding-2[open]", timeout=5_000)
    assert page.locator("details#finding-2 canvas.waterfall-chart").is_visible()
    # A chart in a reopened finding is redrawn at its new size, after a frame.
    page.wait_for_function(
        f"() => ({PAINTED})(document.querySelector('details#finding-2 canvas.waterfall-chart')) > 1000",
        timeout=5_000,
    )
    page.click("#expand-all")
    assert page.locator("details.finding[open]").count() == page.locator("details.finding").count()


def test_a_narrow_window_does_not_scroll_sideways(
    browser: Any, demo_report: Report, tmp_path: Path
) -> None:
    opened = open_report(browser, demo_report.path, width=390)
    page = opened.page
    # Wide tables scroll inside their own box; the page itself fits the window.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    canvas = page.locator("canvas.waterfall-chart").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None and box["width"] <= 390 and canvas.evaluate(PAINTED) > 1000
    screenshot(opened, tmp_path, "demo-report-narrow")
    assert_clean(opened, demo_report.path)


def test_hostile_statements_and_a_huge_trace(browser: Any, tmp_path: Path) -> None:
    """A statement holding </script> stays text, and 5000 spans draw as a capped chart."""
    hostile, huge = hostile_trace(), huge_trace(5000)
    analysis = analyze([hostile, huge], Settings())
    analysis.findings = [
        finding_for(hostile, HOSTILE, 9),
        finding_for(huge, "SELECT * FROM tag WHERE id = ?", 42),
    ]
    out = io.StringIO()
    render(analysis, "html", out, traces=[hostile, huge])
    path = tmp_path / "edge.html"
    path.write_text(out.getvalue(), encoding="utf-8")
    opened = open_report(browser, path)
    page = opened.page
    assert page.evaluate("window.pwned") is None
    assert page.locator("#finding-1 pre.statement").first.inner_text() == HOSTILE
    assert page.locator("#finding-1 summary .title").inner_text().endswith("<b>not bold</b>")
    labels = page.evaluate("window.perfdoctorCharts['waterfall:finding-1'].data.labels")
    assert labels[1] == "db  SELECT … FROM t WHERE a < 1 && b > 2"
    data = page.evaluate("JSON.parse(document.getElementById('perfdoctor-data').textContent)")
    assert data["waterfalls"]["finding-1"]["spans"][0]["detail"] == HOSTILE
    capped = page.locator("#finding-2 .capped")
    assert capped.is_visible()
    assert f"Showing {MAX_WATERFALL_SPANS} of 5000 spans" in capped.inner_text()
    bars = page.evaluate(
        "window.perfdoctorCharts['waterfall:finding-2'].getDatasetMeta(0).data.length"
    )
    assert bars == MAX_WATERFALL_SPANS + 1
    assert page.locator("#finding-2 canvas").evaluate(PAINTED) > 1000
    screenshot(opened, tmp_path, "edge-cases")
    assert_clean(opened, path)
