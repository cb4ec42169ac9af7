"""The size cap holds although its check no longer runs after every batch."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from perfdoctor import store
from perfdoctor.capture.context import ActiveTrace
from perfdoctor.capture.encode import Encoder
from perfdoctor.store import retention

_CODE = compile("def view():\n    return query()\n", "/app/views.py", "exec")


def _batch(encoder: Encoder, first: int, traces: int) -> store.Batch:
    batch = store.Batch()
    frames = [(_CODE, 0)]
    for n in range(first, first + traces):
        trace = ActiveTrace(f"GET /items/{n}", "http")
        trace.finished = trace.start + 0.01
        trace.spans = [
            ("db", i * 1e-4, 5e-5, frames, "django", "sqlite",
             f"SELECT * FROM items WHERE id = ? AND k = {n % 7}", n * 1000 + i, None, 1, 1, None)
            for i in range(40)
        ]
        encoder.add(trace, batch)
    return batch


def _used(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        return int((pages - free) * conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


def test_a_store_stays_near_its_cap_between_checks_and_under_it_after_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "traces.db"
    cap = 1024 * 1024
    conn = store.open_for_writing(path)
    encoder = Encoder()
    kept = retention.Retention(cap)
    biggest = 0
    try:
        for n in range(600):  # about 3 times the cap, in batches of 3 traces
            batch = _batch(encoder, n * 3, 3)
            size = sum(len(row[-1]) + len(row[-2]) for row in batch.traces)
            biggest = max(biggest, size)
            store.write_batch(conn, batch, attempts=1)
            encoder.committed(batch)
            kept.after_write(conn, encoder, size, check=False)
            # Past the cap by at most the batch written since the last check
            # (and the pages SQLite adds to it).
            assert _used(path) <= cap + 4 * biggest + store.PAGE_SIZE
        assert kept.dropped > 0
        kept.after_write(conn, encoder, 0, check=True)  # a flush, or the exit
        assert _used(path) <= cap
        count = conn.execute("SELECT count(*) FROM traces").fetchone()[0]
        assert 0 < count < 1800
    finally:
        conn.close()


def test_a_flush_checks_what_the_cycles_left_unchecked(tmp_path: Path) -> None:
    path = tmp_path / "traces.db"
    conn = store.open_for_writing(path)
    encoder = Encoder()
    kept = retention.Retention(1024 * 1024 * 1024)
    try:
        kept.after_write(conn, encoder, 0, check=True)
        assert not kept.unchecked
        batch = _batch(encoder, 0, 5)
        store.write_batch(conn, batch, attempts=1)
        kept.after_write(conn, encoder, 1000, check=False)
        assert kept.unchecked  # far under a cap of 1 GB: not checked yet
        kept.after_write(conn, encoder, 0, check=True)
        assert not kept.unchecked
    finally:
        conn.close()
