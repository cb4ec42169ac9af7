"""n-plus-one-query over traces captured from real sqlite3 code."""

import sys
from pathlib import Path

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.settings import Settings
from tests.inprocess import blog_db, capturing, load


def _findings(traces: Path, detector: str = "n-plus-one-query", settings: Settings | None = None):
    return [f for f in analyze(load(traces), settings or Settings()).findings if f.id == detector]


def test_a_query_per_row_in_a_loop_is_found_with_its_evidence(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        for _ in range(2):
            with perfdoctor.trace("GET /articles", "http"):
                rows = conn.execute("SELECT id, author_id FROM article").fetchall()
                loop_line = sys._getframe().f_lineno + 1
                for _id, author_id in rows:
                    conn.execute("SELECT name FROM author WHERE id = ?", (author_id,)).fetchone()
                    access_line = sys._getframe().f_lineno - 1
    [finding] = _findings(traces)
    assert finding.endpoint == "GET /articles"
    assert finding.severity == "error"  # 20 repeats, over the error threshold of 10
    assert finding.location is not None
    assert finding.location.line == access_line
    assert finding.evidence["count"] == 20
    assert finding.evidence["total_ms"] > 0
    assert finding.evidence["statement"] == "SELECT name FROM author WHERE id = ?"
    assert finding.evidence["parent_statement"] == "SELECT id, author_id FROM article"
    assert finding.evidence["loop"]["line"] == loop_line
    assert finding.evidence["requests_affected"] == 2
    assert "IN (...)" in finding.fix


def test_the_joined_version_is_clean(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with perfdoctor.trace("GET /articles/fixed", "http"):
            rows = conn.execute(
                "SELECT article.id, author.name FROM article JOIN author ON author.id = article.author_id"
            ).fetchall()
            assert len(rows) == 20
    assert _findings(traces) == []


def test_a_few_repeats_are_below_the_threshold(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with perfdoctor.trace("GET /few", "http"):
            for author_id in range(1, 5):
                conn.execute("SELECT name FROM author WHERE id = ?", (author_id,)).fetchone()
    assert _findings(traces) == []
    assert _findings(traces, settings=Settings(n_plus_one_min_repeats=3))


def test_the_same_parameters_every_time_is_a_duplicate_not_an_n_plus_one(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with perfdoctor.trace("GET /same", "http"):
            for _ in range(6):
                conn.execute("SELECT name FROM author WHERE id = ?", (1,)).fetchone()
    assert _findings(traces) == []
    [duplicate] = _findings(traces, "duplicate-query")
    assert duplicate.evidence["count"] == 6
