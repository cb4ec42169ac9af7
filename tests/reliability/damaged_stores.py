"""Real trace stores, made by the real writer, and ways to damage them."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import perfdoctor
from perfdoctor import store
from tests.conftest import run_perfdoctor
from tests.inprocess import blog_db, capturing

ARTICLES = "GET /articles"
AUTHORS = "GET /authors"
REQUESTS = 40  # of each endpoint: the traces fill several 16 kB pages


def capture_store(traces: Path) -> Path:
    """A store written by capture: N+1 requests (21 queries) and small ones,
    enough of them to fill several pages."""
    with capturing(traces):
        conn = blog_db()
        for _ in range(REQUESTS):
            with perfdoctor.trace(ARTICLES, "http"):
                for (author_id,) in conn.execute("SELECT author_id FROM article").fetchall():
                    conn.execute("SELECT name FROM author WHERE id = ?", (author_id,)).fetchone()
            with perfdoctor.trace(AUTHORS, "http"):
                conn.execute("SELECT name FROM author").fetchall()
    # Everything into the main file, which the tests copy and damage.
    with closing(sqlite3.connect(traces)) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0
    return traces


def copy_store(source: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    shutil.copyfile(source, target)
    return target


def trace_ids(traces: Path) -> dict[str, str]:
    """id -> endpoint of every trace, read with plain SQLite."""
    with closing(sqlite3.connect(traces)) as conn:
        return dict(conn.execute("SELECT id, name FROM traces ORDER BY started_at"))


def page_size(traces: Path) -> int:
    return int.from_bytes(traces.read_bytes()[16:18], "big")


def row_offset(traces: Path, trace_id: str, name: str) -> int:
    """Where the trace's row is in the file: its id then its name (an index
    holds the id alone, or the name alone)."""
    offset = traces.read_bytes().find((trace_id + name).encode())
    assert offset > 0, trace_id
    return offset


def page_of(traces: Path, trace_id: str, name: str) -> int:
    """The number (from 0) of the page that holds the trace's row."""
    return row_offset(traces, trace_id, name) // page_size(traces)


def ids_on_page(traces: Path, page: int, ids: list[str]) -> set[str]:
    size = page_size(traces)
    data = traces.read_bytes()[page * size : (page + 1) * size]
    return {trace_id for trace_id in ids if trace_id.encode() in data}


def overwrite(traces: Path, offset: int, data: bytes) -> None:
    with open(traces, "r+b") as file:
        file.seek(offset)
        file.write(data)


def root_page(traces: Path, table: str) -> int:
    """The number (from 0) of the page that holds the top of ``table``'s tree."""
    with closing(sqlite3.connect(traces)) as conn:
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    return int(root) - 1


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.stdout)
        return data

    def requests(self) -> Counter[str]:
        """Traces per endpoint in the JSON report: what it read."""
        return Counter({e["name"]: e["requests"] for e in self.json()["endpoints"]})


def perfdoctor_on(*args: str, cwd: Path) -> Run:
    result: subprocess.CompletedProcess[str] = run_perfdoctor(*args, cwd=cwd, timeout=60)
    return Run(result.returncode, result.stdout, result.stderr)


def report(traces: Path, *args: str) -> Run:
    return perfdoctor_on("report", "--traces", str(traces), *args, cwd=traces.parent)


def assert_one_line_error(run: Run, traces: Path, *words: str) -> None:
    """Exit 2, and one line on stderr that names the store and what to do."""
    assert run.code == 2, (run.code, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr, run.stderr
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("perfdoctor: error: "), run.stderr
    assert str(traces) in run.stderr and "capture again" in run.stderr, run.stderr
    for word in words:
        assert word in run.stderr, run.stderr


def expected_requests(ids: dict[str, str], lost: set[str]) -> Counter[str]:
    return Counter(name for trace_id, name in ids.items() if trace_id not in lost)


def loaded_ids(traces: Path) -> set[str]:
    return {t.id for t in store.load_traces(traces)}
