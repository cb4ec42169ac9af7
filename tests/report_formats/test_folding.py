"""One line of code with one fix on several endpoints is shown once in the reports
a person reads; JSON keeps a finding per endpoint.

On the Wagtail bakery demo the menu tag of the base template made the same N+1
on every page type: 22 of 54 findings were its two lines.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.cli import main
from perfdoctor.report import text
from perfdoctor.report.markdown import to_markdown
from perfdoctor.settings import Settings
from tests.inprocess import blog_db, capturing, load

PAGES = ("GET /home", "GET /about", "GET /contact", "GET /news", "GET /shop")


def menu(conn: sqlite3.Connection) -> list[str]:
    """The base template's menu, drawn on every page: an author lookup per article."""
    names = []
    for (author_id,) in conn.execute("SELECT author_id FROM article").fetchall():
        row = conn.execute("SELECT name FROM author WHERE id = ?", (author_id,)).fetchone()
        names.append(row[0])
    return names


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("folding") / "traces.db"
    with capturing(path):
        conn = blog_db()
        for page in PAGES:
            with perfdoctor.trace(page, "http"):
                menu(conn)
        with perfdoctor.trace("GET /articles", "http"):
            # Its own N+1, on another line: a cause of its own.
            for (title,) in conn.execute("SELECT title FROM article").fetchall():
                conn.execute("SELECT id FROM article WHERE title = ?", (title,)).fetchone()
    return path


def test_the_terminal_shows_a_menu_on_five_pages_once(traces: Path) -> None:
    analysis = analyze(load(traces), Settings())
    n_plus_ones = [f for f in analysis.findings if f.id == "n-plus-one-query"]
    assert len(n_plus_ones) == 6  # still one finding per endpoint
    out = io.StringIO()
    text.render(analysis, out, width=200)
    rendered = out.getvalue()
    panels = [line for line in rendered.splitlines() if line.startswith("╭─")]
    menus = [line for line in panels if "n-plus-one-query" in line and "/articles" not in line]
    assert len(menus) == 1
    shown = menus[0].split("n-plus-one-query")[1].strip(" ─╮")
    said = re.search(
        r"also on 4 more endpoints: (.+?) and 1 more \(same line, same fix\)",
        " ".join(rendered.split()),
    )
    assert said is not None, rendered
    named = said.group(1).split(", ")
    assert len(named) == 3 and set(named) < set(PAGES) - {shown}
    assert f"{len(panels)} shown of {len(analysis.findings)}" in rendered
    # Numbered 1, 2, 3... over what is shown.
    assert [p.split(".")[0].strip("╭─ ") for p in panels] == [
        str(i) for i in range(1, len(panels) + 1)
    ]


def test_markdown_counts_the_other_endpoints(traces: Path) -> None:
    lines = to_markdown(analyze(load(traces), Settings()))
    rows = [line for line in lines if line.startswith("| ") and "n-plus-one-query" in line]
    assert len(rows) == 2
    assert sum("and 4 more |" in row for row in rows) == 1
    assert any(line.startswith("Also on 4 more endpoints: ") for line in lines)


def test_json_keeps_one_finding_per_endpoint(traces: Path) -> None:
    out = CliRunner().invoke(main, ["report", "--traces", str(traces), "--format", "json"])
    assert out.exit_code == 0, out.output
    endpoints = {
        f["endpoint"] for f in json.loads(out.stdout)["findings"] if f["id"] == "n-plus-one-query"
    }
    assert endpoints == {*PAGES, "GET /articles"}


def test_the_html_report_shows_a_menu_on_five_pages_once(traces: Path) -> None:
    from perfdoctor.report import html

    analysis = analyze(load(traces), Settings())
    page = html.render_page(analysis, traces=load(traces))
    cards = re.findall(r'<details class="finding [^"]*" id="(finding-\d+)" open>(.*?)</details>', page, re.S)
    menus = [body for _, body in cards if ">n-plus-one-query<" in body and "/articles" not in body]
    assert len(menus) == 1
    said = re.search(r"Also on 4 more endpoints: (.+?) and 1 more \(same line, same fix\)", menus[0])
    assert said is not None, menus[0]
    assert f"{len(analysis.findings)} findings</strong>" in page
    assert f"({len(cards)} shown: one line of code with one fix" in page
    # Numbered 1, 2, 3... over what is shown, and each card in the index.
    assert [anchor for anchor, _ in cards] == [f"finding-{i}" for i in range(1, len(cards) + 1)]
    index = page.split('id="finding-index"')[1].split("</table>")[0]
    assert "+4 more</span>" in index
