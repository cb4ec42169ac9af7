"""Queries outside any request, then idles until a supervisor stops it with SIGTERM.

Python's default SIGTERM action skips ``atexit``; the queries must be stored anyway.
``python wait_for_term.py DB_PATH``
"""

from __future__ import annotations

import signal
import sqlite3
import sys

ROWS = 7


def main(path: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS job (id INTEGER PRIMARY KEY, state TEXT)")
    conn.executemany("INSERT INTO job (state) VALUES (?)", [("new",)] * ROWS)
    ids = [row[0] for row in conn.execute("SELECT id FROM job")]
    for job_id in ids:  # loop: wait_for_term
        query = "SELECT state FROM job WHERE id = ?"
        conn.execute(query, (job_id,)).fetchone()  # n+1: wait_for_term
    conn.commit()
    print("ready", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    main(sys.argv[1])
