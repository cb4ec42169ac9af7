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


def test_repeats_inside_an_n_plus_one_loop_are_left_to_it(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with perfdoctor.trace("GET /articles", "http"):
            for author_id in (1, 2, 1, 3, 1, 4):
                conn.execute("SELECT name FROM author WHERE id = ?", (author_id,)).fetchone()
            # Author 1 once more, outside the loop: with the loop's runs left
            # out it ran once. Author 7 twice: a duplicate.
            conn.execute("SELECT name FROM author WHERE id = ?", (1,)).fetchone()
            conn.execute("SELECT name FROM author WHERE id = ?", (7,)).fetchone()
            conn.execute("SELECT name FROM author WHERE id = ?", (7,)).fetchone()
    findings = analyze(load(traces), Settings()).findings
    [n_plus_one] = [f for f in findings if f.id == "n-plus-one-query"]
    assert n_plus_one.evidence["count"] == 6
    [duplicate] = _duplicates(traces)
    assert duplicate.evidence["count"] == 2


def test_a_loops_repeated_parameters_alone_are_no_duplicate(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with perfdoctor.trace("GET /articles", "http"):
            for author_id in (1, 2, 1, 3, 1, 4):
                conn.execute("SELECT name FROM author WHERE id = ?", (author_id,)).fetchone()
            # Author 1 once more from another line: once outside the loop.
            conn.execute("SELECT name FROM author WHERE id = ?", (1,)).fetchone()
    findings = analyze(load(traces), Settings()).findings
    assert [f.evidence["count"] for f in findings if f.id == "n-plus-one-query"] == [6]
    assert _duplicates(traces) == []


def test_a_copy_outside_the_loop_of_a_row_the_loop_read_is_a_duplicate(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with perfdoctor.trace("GET /articles", "http"):
            for author_id in (1, 2, 1, 3, 1, 4):
                conn.execute("SELECT name FROM author WHERE id = ?", (author_id,)).fetchone()
            # Author 1 twice more, each from its own line: one copy.
            conn.execute("SELECT name FROM author WHERE id = ?", (1,)).fetchone()
            conn.execute("SELECT name FROM author WHERE id = ?", (1,)).fetchone()
    [duplicate] = _duplicates(traces)
    assert duplicate.evidence["count"] == 2
