import sqlite3
import subprocess
import sys
from pathlib import Path

import perfdoctor
from tests.inprocess import blog_db, capturing, load


def test_each_query_in_a_trace_is_a_span_with_the_user_call_site(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with perfdoctor.trace("job"):
            conn.execute("SELECT name FROM author WHERE id = ?", (3,)).fetchone()
            line = sys._getframe().f_lineno - 1
            cursor = conn.cursor()
            cursor.execute("SELECT title FROM article WHERE author_id IN (1, 2, 3)")
            cursor.fetchall()
    [trace] = load(traces)
    assert trace.name == "job"
    first, second = trace.spans
    assert first.statement == "SELECT name FROM author WHERE id = ?"
    assert first.system == "sqlite"
    assert first.location is not None
    assert first.location.path == __file__
    assert first.location.line == line
    assert first.location.function.endswith("test_each_query_in_a_trace_is_a_span_with_the_user_call_site")
    assert second.statement == "SELECT title FROM article WHERE author_id IN (...)"
    assert first.duration_ms > 0


def test_queries_outside_a_trace_are_not_recorded(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        conn.execute("SELECT 1").fetchall()
        with perfdoctor.trace("only-this"):
            conn.execute("SELECT 2").fetchall()
    [trace] = load(traces)
    assert [s.statement for s in trace.spans] == ["SELECT ?"]


def test_parameter_values_are_never_stored(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with perfdoctor.trace("secret"):
            conn.execute("SELECT * FROM author WHERE name = ?", ("hunter2-secret",)).fetchall()
            conn.execute("SELECT * FROM author WHERE name = 'inline-secret'").fetchall()
    perfdoctor.flush()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("t.db"))
    assert b"hunter2-secret" not in raw
    assert b"inline-secret" not in raw
    assert len(load(traces)[0].spans) == 2


def test_a_cursor_factory_of_the_callers_own_still_works(tmp_path: Path) -> None:
    class Rows(sqlite3.Cursor):
        def names(self) -> list[str]:
            return [row[0] for row in self.fetchall()]

    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with perfdoctor.trace("factory"):
            cursor = conn.cursor(factory=Rows)
            cursor.execute("SELECT name FROM author ORDER BY id LIMIT 2")
            assert cursor.names() == ["author 0", "author 1"]
    assert len(load(traces)[0].spans) == 1


def test_an_unwritable_store_warns_once_and_the_program_goes_on(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    script = tmp_path / "job.py"
    script.write_text(
        "import sqlite3, perfdoctor\n"
        f"perfdoctor.instrument({str(blocker / 'traces.db')!r})\n"
        "conn = sqlite3.connect(':memory:')\n"
        "for i in range(20):\n"
        "    with perfdoctor.trace('job'):\n"
        "        conn.execute('SELECT ?', (i,)).fetchall()\n"
        "    perfdoctor.flush()\n"
        "print('done', i)\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip() == "done 19"
    warnings = [line for line in result.stderr.splitlines() if line.startswith("perfdoctor:")]
    assert len(warnings) == 1, result.stderr
    assert "cannot write traces" in warnings[0]
    assert "Traceback" not in result.stderr


def test_the_same_function_in_two_files_is_two_call_sites(tmp_path: Path) -> None:
    # Code objects compiled from the same text compare (and hash) equal whatever
    # their file: the call sites must still be told apart by the file they run in.
    source = "def lookup(conn):\n    return conn.execute('SELECT name FROM author').fetchall()\n"
    helpers = []
    for name in ("helpers_a", "helpers_b"):
        path = tmp_path / f"{name}.py"
        path.write_text(source)
        namespace: dict[str, object] = {}
        exec(compile(source, str(path), "exec"), namespace)
        helpers.append(namespace["lookup"])
    assert helpers[0].__code__ == helpers[1].__code__  # type: ignore[attr-defined]
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with perfdoctor.trace("job"):
            for lookup in helpers:
                lookup(conn)  # type: ignore[operator]
    [trace] = load(traces)
    assert [span.location.path for span in trace.spans if span.location] == [
        str(tmp_path / "helpers_a.py"),
        str(tmp_path / "helpers_b.py"),
    ]
