"""Captures ``COUNT`` traces, each with a statement of its own (about 600 bytes
to store), then prints ``done COUNT``: ``python fill_store.py COUNT``."""

from __future__ import annotations

import sqlite3
import sys
import time

import perfdoctor


def main() -> None:
    count = int(sys.argv[1])
    conn = sqlite3.connect(":memory:")
    for i in range(count):
        with perfdoctor.trace("GET /fill"):
            conn.execute(f"SELECT 1 AS column_{i}_{'y' * 500}").fetchall()
        if i % 100 == 99:
            time.sleep(0.01)  # the writer writes as the app goes, not all at exit
    print("done", count, flush=True)


if __name__ == "__main__":
    main()
