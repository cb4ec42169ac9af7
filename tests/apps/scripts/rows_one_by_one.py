"""A standard-library script with an N+1, run by another interpreter than perfdoctor's.

``python rows_one_by_one.py DB_PATH``
"""

import sqlite3
import sys

ROWS = 6


def main(path: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO item (name) VALUES (?)", [("x",)] * ROWS)
    ids = [row[0] for row in conn.execute("SELECT id FROM item")]
    for item_id in ids:  # loop: other_interpreter
        conn.execute("SELECT name FROM item WHERE id = ?", (item_id,)).fetchone()  # n+1: other_interpreter
    conn.commit()


if __name__ == "__main__":
    main(sys.argv[1])
