"""The table the sampling apps read: eight items, made anew each run."""

from __future__ import annotations

import sqlite3


def seed(db: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("DELETE FROM item")
    conn.executemany("INSERT INTO item VALUES (?, ?)", [(i, f"n{i}") for i in range(8)])
    conn.commit()
    conn.close()
