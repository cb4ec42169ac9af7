"""Progress on stderr: drawn on a terminal, absent with --format json or a piped stderr.

Each command runs as a user runs it, in a subprocess whose stderr is a real
pseudo-terminal (or a pipe); what reached the terminal is read back.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

import perfdoctor
from tests.advisor import workload
from tests.advisor.conftest import query_args, sqlite_url
from tests.compare import samples
from tests.conftest import run_perfdoctor
from tests.inprocess import blog_db, capturing
from tests.terminal.tty import run_on_tty

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("progress") / "traces.db"
    with capturing(path):
        conn = blog_db()
        for n in range(40):
            with perfdoctor.trace(f"GET /articles/{n % 4}", "http"):
                conn.execute("SELECT * FROM article WHERE author_id = ?", (n % 10,)).fetchall()
    return path


@pytest.fixture(scope="module")
def otlp_file(traces: Path) -> Path:
    out = traces.parent / "traces.jsonl"
    done = run_perfdoctor("export", "otlp", "--traces", str(traces), "-o", str(out))
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("shop") / "shop.db"
    workload.build_sqlite(str(path))
    return str(path)


@pytest.fixture(scope="module")
def bench_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("compare")
    names = [f"GET /area{n}/items" for n in range(6)]
    before = {name: samples.endpoint(samples.latencies(n, 400)) for n, name in enumerate(names)}
    after = {name: samples.endpoint(samples.latencies(9 + n, 400)) for n, name in enumerate(names)}
    return (
        samples.write(folder / "before.json", samples.result(before)),
        samples.write(folder / "after.json", samples.result(after)),
    )


# (command line, the progress text it shows) per command; built from the fixtures.
Case = Callable[[pytest.FixtureRequest], tuple[list[str], str]]
CASES: dict[str, Case] = {
    "report": lambda r: (
        ["report", "--traces", str(r.getfixturevalue("traces"))],
        "Reading traces",
    ),
    "indexes": lambda r: (
        ["indexes", "--db", sqlite_url(r.getfixturevalue("shop")), *query_args()],
        "Planning queries",
    ),
    "compare": lambda r: (["compare", *r.getfixturevalue("bench_files")], "Comparing endpoints"),
    "bench": lambda r: (
        [
            "bench",
            "--app",
            "tests.bench.flask_blog:app",
            "--endpoint",
            "GET /articles",
            "--endpoint",
            "GET /articles/fixed",
            "--requests",
            "20",
            "--rounds",
            "2",
            "--warmup",
            "1",
        ],
        "Benchmarking 2 endpoints in 2 rounds",
    ),
}


@pytest.mark.parametrize("command", sorted(CASES))
def test_progress_on_a_terminal(command: str, request: pytest.FixtureRequest) -> None:
    args, text = CASES[command](request)
    ran = run_on_tty(*args, tty="stderr", cwd=ROOT)
    assert ran.returncode in (0, 1), ran.terminal
    assert text in ran.terminal
    # stdout, a pipe here, carries the result and no progress.
    assert text not in ran.piped


@pytest.mark.parametrize("command", sorted(CASES))
def test_no_progress_with_json_output(command: str, request: pytest.FixtureRequest) -> None:
    args, text = CASES[command](request)
    ran = run_on_tty(*args, "--format", "json", tty="stderr", cwd=ROOT)
    assert ran.returncode in (0, 1), ran.terminal
    assert text not in ran.terminal
    json.loads(ran.piped)


@pytest.mark.parametrize("command", sorted(CASES))
def test_no_progress_when_stderr_is_a_pipe(command: str, request: pytest.FixtureRequest) -> None:
    args, text = CASES[command](request)
    done = run_perfdoctor(*args, cwd=ROOT, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    assert text not in done.stderr and "━" not in done.stderr


def test_import_shows_the_bytes_read(otlp_file: Path, tmp_path: Path) -> None:
    store = tmp_path / "imported.db"
    ran = run_on_tty("import", "otlp", "--traces", str(store), str(otlp_file), tty="stderr")
    assert ran.returncode == 0, ran.terminal
    assert "Importing" in ran.terminal
    size_kb = otlp_file.stat().st_size / 1000
    assert f"/{size_kb:.1f} kB" in ran.terminal  # bytes read out of the file's size
    assert ran.piped.startswith("imported 40 traces")


def test_import_through_a_pipe_is_silent(otlp_file: Path, tmp_path: Path) -> None:
    done = run_perfdoctor("import", "otlp", "--traces", str(tmp_path / "t.db"), str(otlp_file))
    assert done.returncode == 0, done.stderr
    assert "Importing" not in done.stderr and done.stderr == ""


def test_indexes_shows_each_stage_of_the_advisor(request: pytest.FixtureRequest) -> None:
    shop = request.getfixturevalue("shop")
    with closing(sqlite3.connect(shop)) as conn:
        indexes_before = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'"
        ).fetchall()
    ran = run_on_tty("indexes", "--db", sqlite_url(shop), *query_args(), tty="stderr")
    assert ran.returncode == 0, ran.terminal
    assert "Planning queries" in ran.terminal
    assert "Trying candidate indexes, rolled back" in ran.terminal
    assert f"/{len(workload.QUERIES)}" in ran.terminal  # queries examined, out of all
    with closing(sqlite3.connect(shop)) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall() == (
            indexes_before
        )
