"""`perfdoctor run` checks the store before it starts the command.

A store the command's processes could not write is one line and exit 2, and
the command does not run: before, the app ran to the end and stored nothing,
with one line at the end.
"""

from __future__ import annotations

import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import pytest

from perfdoctor import store
from tests.capture.apps_support import app_env
from tests.conftest import run_perfdoctor
from tests.reliability.support import holding, names_in


def _run_marking(traces: Path, marker: Path, *options: str) -> tuple[int, str]:
    result = run_perfdoctor(
        "run", *options, "--traces", str(traces), "--", sys.executable, "-c",
        f"import sqlite3; sqlite3.connect(':memory:').execute('SELECT 1'); "
        f"open({str(marker)!r}, 'w').close()",
        cwd=marker.parent, env=app_env(),
    )
    return result.returncode, result.stderr


def _set_version(traces: Path, version: int) -> None:
    with closing(sqlite3.connect(traces)) as conn:
        conn.execute(f"PRAGMA user_version = {version}")


def _make(kind: str, tmp_path: Path) -> Path:
    traces = tmp_path / "traces.db"
    if kind == "newer":
        store.open_for_writing(traces).close()
        _set_version(traces, store.SCHEMA_VERSION + 1)
    elif kind == "older":
        store.open_for_writing(traces).close()
        _set_version(traces, 1)
    elif kind == "not-sqlite":
        traces.write_text("not a database\n" * 200)
    elif kind == "app-database":  # the app's own SQLite database, given by mistake
        with closing(sqlite3.connect(traces)) as conn:
            conn.execute("CREATE TABLE customer (id INTEGER PRIMARY KEY)")
    elif kind == "directory":
        traces.mkdir()
    elif kind == "parent-is-a-file":
        (tmp_path / "blocker").write_text("a file where a folder should be\n")
        traces = tmp_path / "blocker" / "traces.db"
    return traces


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("newer", "newer perfdoctor"),
        ("older", "older perfdoctor"),
        ("not-sqlite", "not a perfdoctor trace store"),
        ("app-database", "customer"),
        ("directory", "cannot write traces"),
        ("parent-is-a-file", "cannot write traces"),
    ],
)
def test_a_store_that_cannot_be_written_stops_the_run_before_the_command(
    tmp_path: Path, kind: str, words: str
) -> None:
    traces = _make(kind, tmp_path)
    marker = tmp_path / "the-command-ran"
    code, stderr = _run_marking(traces, marker)
    assert code == 2, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("perfdoctor: error: "), stderr
    assert words in lines[0] and str(traces) in lines[0], lines[0]
    assert not marker.exists()
    if kind == "app-database":
        with closing(sqlite3.connect(traces)) as conn:  # left as it was
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert tables == {"customer"}


@pytest.mark.parametrize("kind", ["missing", "ours", "held"])
def test_a_store_that_can_be_written_runs_the_command(tmp_path: Path, kind: str) -> None:
    traces = tmp_path / "new-folder" / "traces.db"
    marker = tmp_path / "the-command-ran"
    if kind != "missing":
        store.open_for_writing(traces).close()
    if kind == "held":  # the processes will wait, or set their traces aside
        with holding(traces, "exclusive"):
            code, stderr = _run_marking(traces, marker)
        assert "held by another process" in stderr, stderr
    else:
        code, stderr = _run_marking(traces, marker)
        assert stderr == ""
        assert len(names_in(traces)) == 1
    assert code == 0, stderr
    assert marker.exists()


def test_the_exit_timeout_reaches_the_command_from_the_option_or_the_settings(
    tmp_path: Path,
) -> None:
    show = [sys.executable, "-c", "import os; print(os.environ['PERFDOCTOR_EXIT_TIMEOUT'])"]
    traces = str(tmp_path / "traces.db")
    env = app_env()
    default = run_perfdoctor("run", "--traces", traces, "--", *show, cwd=tmp_path, env=env)
    assert default.stdout == "2.0\n", default.stderr
    given = run_perfdoctor(
        "run", "--exit-timeout", "0.5", "--traces", traces, "--", *show, cwd=tmp_path, env=env
    )
    assert given.stdout == "0.5\n", given.stderr
    (tmp_path / "pyproject.toml").write_text("[tool.perfdoctor]\nexit_flush_timeout_s = 7\n")
    configured = run_perfdoctor("run", "--traces", traces, "--", *show, cwd=tmp_path, env=env)
    assert configured.stdout == "7.0\n", configured.stderr
    wrong = run_perfdoctor(
        "run", "--exit-timeout", "-1", "--traces", traces, "--", *show, cwd=tmp_path, env=env
    )
    assert wrong.returncode == 2 and wrong.stdout == "", wrong.stderr
