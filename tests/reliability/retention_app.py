"""A script that fills a trace store: run under ``perfdoctor run`` or on its own.

    python retention_app.py jobs N            # N traces "job 00000"..., 60 queries each
    python retention_app.py sites TRACES MB N       # N traces, each from its own line and statement
    python retention_app.py early-late TRACES MB GO # a call site used, idle, used again

``sites`` and ``early-late`` call ``perfdoctor.instrument`` themselves (the
store and its cap as arguments).  ``early-late`` writes one trace from a call
site, waits for the file GO to appear, then writes another from the same site.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path
from typing import Any, Callable

import perfdoctor

HERE = str(Path(__file__).resolve())


def _table() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    db.executemany("INSERT INTO t VALUES (?, ?)", [(i, "x" * 40) for i in range(100)])
    return db


def jobs(count: int) -> None:
    db = _table()
    for i in range(count):
        with perfdoctor.trace(f"job {i:05d}"):
            for k in range(60):
                db.execute("SELECT v FROM t WHERE id = ?", ((i + k) % 100,)).fetchall()


def site(i: int) -> Callable[[sqlite3.Connection], Any]:
    """A function whose query is on a line of its own, with a statement of its own."""
    namespace: dict[str, Any] = {}
    source = "\n" * (1000 + i) + (
        "def query(db):\n"
        f"    return db.execute('SELECT v AS v{i} FROM t WHERE id = ?', (1,)).fetchall()\n"
    )
    exec(compile(source, HERE, "exec"), namespace)
    return namespace["query"]  # type: ignore[no-any-return]


def sites(count: int) -> None:
    db = _table()
    for i in range(count):
        query = site(i)
        with perfdoctor.trace(f"site {i:05d}"):
            sqlite3.connect(":memory:").close()  # a span with no statement
            for _ in range(20):
                query(db)


def early_late(go: Path) -> None:
    db = _table()
    query = site(99_999)
    with perfdoctor.trace("early"):
        query(db)
    perfdoctor.flush()
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    with perfdoctor.trace("late"):
        query(db)
    perfdoctor.flush()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "jobs":
        jobs(int(sys.argv[2]))
    else:
        perfdoctor.instrument(sys.argv[2], max_store_mb=float(sys.argv[3]))
        if mode == "sites":
            sites(int(sys.argv[4]))
        else:
            early_late(Path(sys.argv[4]))
        perfdoctor.uninstrument()
