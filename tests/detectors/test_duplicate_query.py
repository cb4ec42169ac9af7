"""duplicate-query over traces captured from real sqlite3 code."""

from pathlib import Path

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.settings import Settings
from tests.inprocess import blog_db, capturing, load


def _duplicates(traces: Path):
    return [f for f in analyze(load(traces), Settings()).findings if f.id == "duplicate-query"]


def _author(conn, author_id: int):
    return conn.execute("SELECT id, name FROM author WHERE id = ?", (author_id,)).fetchone()


def test_the_same_row_loaded_three_times_is_found(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with perfdoctor.trace("GET /authors/{id}", "http"):
            _author(conn, 3)
            _author(conn, 3)
            _author(conn, 3)
            _author(conn, 4)
    [finding] = _duplicates(traces)
    assert finding.endpoint == "GET /authors/{id}"
    assert finding.evidence["count"] == 3
    assert finding.evidence["wasted_ms"] <= finding.evidence["total_ms"]
    # The second run is the redundant copy: the caller's line, not the shared helper's.
    assert finding.location is not None
    assert finding.location.function == "test_the_same_row_loaded_three_times_is_found"
    first_line = finding.location.line - 1
    assert [(s["line"], s["count"]) for s in finding.evidence["sites"]] == [
        (first_line, 1), (first_line + 1, 1), (first_line + 2, 1)
    ]


def test_loading_it_once_is_clean(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with perfdoctor.trace("GET /authors/{id}/fixed", "http"):
            author = _author(conn, 3)
            assert author is not None
            _author(conn, 4)
    assert _duplicates(traces) == []


def test_writes_repeated_are_not_duplicates(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with perfdoctor.trace("POST /log", "http"):
            for _ in range(3):
                conn.execute("INSERT INTO author (name) VALUES (?)", ("same",))
    assert _duplicates(traces) == []


def test_one_line_asking_the_same_per_row_says_compute_once(tmp_path: Path) -> None:
    """As Article.favorited on a real Flask app: a property per row runs a query whose
    parameters never include the row, so every row gets the same answer."""
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with perfdoctor.trace("GET /articles", "http"):
            rows = conn.execute("SELECT id FROM article").fetchall()
            flags = [_author(conn, 1) is not None for _ in rows]
    [finding] = _duplicates(traces)
    assert finding.evidence["count"] == len(flags) >= 3
    assert [s["count"] for s in finding.evidence["sites"]] == [len(flags)]
    assert "does not depend on the row" in finding.fix
    assert "missing the row's key" in finding.fix
