"""The app the compare-noise benchmark measures: one endpoint, a few SQLite queries and
some Python work (about 3 ms on an idle 2-CPU machine).

``app`` is the code before; ``app_sleep`` and ``app_cpu`` are it plus a known
slowdown (a sleep, or more of the same Python work) sized by the benchmark from
the idle machine so that each is 20% slower there: ``PERFDOCTOR_NOISE_SLEEP_MS``
and ``PERFDOCTOR_NOISE_EXTRA_LOOPS``.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable
from typing import Any

_DB = os.path.join(tempfile.mkdtemp(prefix="perfdoctor-noise-"), "noise.db")
LOOPS = 30_000


def _seed() -> None:
    conn = sqlite3.connect(_DB)
    conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
    conn.executemany(
        "INSERT INTO item VALUES (?, ?, ?)", ((i, f"item {i}", i * 1.5) for i in range(2000))
    )
    conn.commit()
    conn.close()


_seed()


def work(loops: int) -> int:
    total = 0
    for i in range(loops):
        total += i * i % 7
    return total


def _page(extra_loops: int = 0, sleep_ms: float = 0.0) -> bytes:
    conn = sqlite3.connect(_DB)
    try:
        rows = conn.execute("SELECT id, name, price FROM item ORDER BY id LIMIT 50").fetchall()
        for row_id in (1, 500, 1000, 1500):
            conn.execute("SELECT name FROM item WHERE id = ?", (row_id,)).fetchone()
    finally:
        conn.close()
    work(LOOPS + extra_loops)
    if sleep_ms:
        time.sleep(sleep_ms / 1000.0)
    return repr(rows).encode()


def _wsgi(
    page: Callable[[], bytes],
) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [page()]

    return wsgi


app = _wsgi(_page)
app_sleep = _wsgi(lambda: _page(sleep_ms=float(os.environ.get("PERFDOCTOR_NOISE_SLEEP_MS", 0))))
app_cpu = _wsgi(lambda: _page(extra_loops=int(os.environ.get("PERFDOCTOR_NOISE_EXTRA_LOOPS", 0))))
