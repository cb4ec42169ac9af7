"""The table the sampling apps read: eight items, made anew each run; and how
the apps that ask one page over and over drive it."""

from __future__ import annotations

import sqlite3
from typing import Any


def seed(db: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("DELETE FROM item")
    conn.executemany("INSERT INTO item VALUES (?, ?)", [(i, f"n{i}") for i in range(8)])
    conn.commit()
    conn.close()


def ask(app: Any, db: str, path: str, requests: int, status: int) -> None:
    """Seed ``db``, then GET ``path`` of the Flask ``app`` ``requests`` times through
    its test client, each answered ``status``."""
    seed(db)
    client = app.test_client()
    for _ in range(requests):
        assert client.get(path).status_code == status
