"""`perfdoctor report --format markdown`: a pull-request comment a reviewer can act on."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.cli import main
from perfdoctor.report.markdown import TOP_FINDINGS, to_markdown
from perfdoctor.settings import Settings
from tests.inprocess import blog_db, capturing, load
from tests.report_formats.stores import N_PLUS_ONE_LINE, compare_file, n_plus_one_store


@pytest.fixture(autouse=True)
def _away_from_the_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _report(*args: str) -> Result:
    return CliRunner().invoke(main, ["report", *args])


def test_top_findings_with_call_site_statement_and_fix(tmp_path: Path) -> None:
    traces = n_plus_one_store(tmp_path)
    out = _report("--traces", str(traces), "--format", "markdown")
    assert out.exit_code == 0, out.output
    text = out.stdout
    assert text.startswith("## perfdoctor: 1 finding (1 error) in 4 requests to 2 endpoints")
    [row] = [line for line in text.splitlines() if line.startswith("| 1 |")]
    assert "**n-plus-one-query**" in row and "`GET /articles`" in row
    assert f"stores.py:{N_PLUS_ONE_LINE}`" in row
    assert "runs per request: 20" in text
    assert "```sql\nSELECT name FROM author WHERE id = ?\n```" in text
    assert "**Fix:**" in text and text.count("<details>") == text.count("</details>") == 1
    # The fixed twin (one JOIN) is not a finding.
    assert "GET /articles/fixed" not in text


def test_before_after_from_a_compare_result(tmp_path: Path) -> None:
    traces = n_plus_one_store(tmp_path)
    compare = compare_file(tmp_path)
    out = _report("--traces", str(traces), "--format", "markdown", "--compare", str(compare))
    assert out.exit_code == 0, out.output
    section = out.stdout.split("### Before / after", 1)[1].split("###", 1)[0]
    [row] = [line for line in section.splitlines() if line.startswith("| `GET /articles`")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "✅ faster"
    before, after = (float(v) for v in cells[2].removesuffix(" ms").split(" → "))
    assert before > after
    # The change as the verdict's method measured it, its interval, and the noise.
    assert re.fullmatch(r"-\d+\.\d% \[-\d+%, -\d+%\]", cells[3]), cells[3]
    assert cells[4].startswith("±") and "detects ≥" in cells[4]
    assert cells[6] == "21 → 1"
    assert "Method: " in section
    assert "**Fixed:** 1 finding" in section
    assert "- n-plus-one-query (error) on GET /articles at app/views.py:42" in section


def test_written_to_a_file_and_bad_compare_file_writes_nothing(tmp_path: Path) -> None:
    traces = n_plus_one_store(tmp_path)
    out = _report("--traces", str(traces), "--format", "markdown", "-o", "pr.md")
    assert out.exit_code == 0 and out.stdout == ""
    assert (tmp_path / "pr.md").read_text().startswith("## perfdoctor: 1 finding")
    (tmp_path / "bad.json").write_text('{"version": 1, "endpoints": {}}')
    bad = _report(
        "--traces", str(traces), "--format", "markdown", "--compare", "bad.json", "-o", "b.md"
    )
    assert bad.exit_code == 2
    assert "bad.json: not a `perfdoctor compare --format json` result" in bad.stderr
    assert not (tmp_path / "b.md").exists()


def test_names_with_pipes_and_html_do_not_break_the_table(tmp_path: Path) -> None:
    name = "GET /a|b/<script>alert(1)</script>"
    traces = n_plus_one_store(tmp_path, endpoint_name=name, requests=1)
    text = "\n".join(to_markdown(analyze(load(traces), Settings())))
    [row] = [line for line in text.splitlines() if line.startswith("| 1 |")]
    # Five cells: the pipe in the name is escaped, so the row does not split.
    assert row.replace("\\|", "").count("|") == 6
    # Raw HTML only inside code spans, where GitHub shows it as text.
    outside_code = re.sub(r"(`+).*?\1", "", text)
    assert "<script>" not in outside_code


AUTHOR = "SELECT name FROM author WHERE id = ?"
# A lookup line per endpoint: as many places to fix (one line on every endpoint
# would be one cause, shown once).
LOOKUPS: list[Callable[[sqlite3.Connection, int], object]] = [
    lambda conn, key: conn.execute(AUTHOR, (key,)).fetchone(),
    lambda conn, key: conn.execute(AUTHOR, (key,)).fetchone(),
    lambda conn, key: conn.execute(AUTHOR, (key,)).fetchone(),
    lambda conn, key: conn.execute(AUTHOR, (key,)).fetchone(),
    lambda conn, key: conn.execute(AUTHOR, (key,)).fetchone(),
    lambda conn, key: conn.execute(AUTHOR, (key,)).fetchone(),
    lambda conn, key: conn.execute(AUTHOR, (key,)).fetchone(),
    lambda conn, key: conn.execute(AUTHOR, (key,)).fetchone(),
    lambda conn, key: conn.execute(AUTHOR, (key,)).fetchone(),
    lambda conn, key: conn.execute(AUTHOR, (key,)).fetchone(),
    lambda conn, key: conn.execute(AUTHOR, (key,)).fetchone(),
    lambda conn, key: conn.execute(AUTHOR, (key,)).fetchone(),
    lambda conn, key: conn.execute(AUTHOR, (key,)).fetchone(),
]


def test_only_the_top_findings_are_written_out(tmp_path: Path) -> None:
    traces = tmp_path / "many.db"
    assert len(LOOKUPS) == TOP_FINDINGS + 3
    with capturing(traces):
        conn = blog_db()
        for n, lookup in enumerate(LOOKUPS):
            with perfdoctor.trace(f"GET /list/{n}", "http"):
                for (author_id,) in conn.execute("SELECT author_id FROM article").fetchall():
                    lookup(conn, author_id)
    lines = to_markdown(analyze(load(traces), Settings()))
    text = "\n".join(lines)
    assert text.count("<details>") == TOP_FINDINGS
    assert "…and 3 more (3 error)" in text
    assert "### Top findings" in text


def test_no_findings_says_so(tmp_path: Path) -> None:
    traces = tmp_path / "clean.db"
    with capturing(traces):
        conn = blog_db()
        with perfdoctor.trace("GET /articles", "http"):
            conn.execute("SELECT title FROM article LIMIT 5").fetchall()
    text = "\n".join(to_markdown(analyze(load(traces), Settings())))
    assert "## perfdoctor: 0 findings in 1 requests to 1 endpoints" in text
    assert "No findings" in text


def test_budget_table_shows_set_budgets_held_and_broken(tmp_path: Path) -> None:
    traces = n_plus_one_store(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.perfdoctor.budgets]\n"GET /articles" = { max_queries = 5 }\n'
        '"GET /articles/fixed" = { max_queries = 5 }\n',
        encoding="utf-8",
    )
    out = _report("--traces", str(traces), "--format", "markdown")
    section = out.stdout.split("### Budgets", 1)[1]
    rows = {
        line.split("|")[1].strip(): line for line in section.splitlines() if line.startswith("| `")
    }
    assert "21 queries" in rows["`GET /articles`"] and "❌ over" in rows["`GET /articles`"]
    assert "1 queries" in rows["`GET /articles/fixed`"] and "✅ ok" in rows["`GET /articles/fixed`"]
