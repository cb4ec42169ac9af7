"""Started by parent.py: an N+1 of its own over a table it fills."""

from __future__ import annotations

import sqlite3
import sys

ROWS = 6


def main(path: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, label TEXT)")
    conn.executemany("INSERT INTO item (label) VALUES (?)", [(f"i{n}",) for n in range(ROWS)])
    ids = [row[0] for row in conn.execute("SELECT id FROM item ORDER BY id")]
    for item_id in ids:  # loop: child
        conn.execute("SELECT label FROM item WHERE id = ?", (item_id,)).fetchone()  # n+1: child
    conn.commit()
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1])
