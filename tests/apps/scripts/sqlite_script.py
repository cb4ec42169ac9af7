"""A plain sqlite3 script: an N+1 at top level, another inside a named trace.

``python sqlite_script.py DB_PATH``
"""

from __future__ import annotations

import sqlite3
import sys

import perfdoctor

AUTHORS = 8


def setup(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS author (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("CREATE TABLE IF NOT EXISTS post (id INTEGER PRIMARY KEY, author_id INTEGER)")
    conn.executemany("INSERT INTO author (id, name) VALUES (?, ?)", [
        (n, f"author {n}") for n in range(1, AUTHORS + 1)
    ])
    conn.executemany("INSERT INTO post (author_id) VALUES (?)", [
        (n,) for n in range(1, AUTHORS + 1) for _ in range(2)
    ])
    # A literal in the SQL text and a parameter value: neither may reach the store.
    conn.execute("SELECT count(*) FROM author WHERE name = 'literal-s3cret'").fetchone()
    conn.execute("SELECT count(*) FROM author WHERE name = ?", ("param-s3cret",)).fetchone()


def author_names(conn: sqlite3.Connection) -> list[str]:
    names = []
    posts = conn.execute("SELECT id, author_id FROM post ORDER BY id").fetchall()
    for _post_id, author_id in posts:  # loop: author_names
        query = "SELECT name FROM author WHERE id = ?"
        row = conn.execute(query, (author_id,)).fetchone()  # n+1: author_names
        names.append(row[0])
    return names


def nightly_counts(conn: sqlite3.Connection) -> dict[int, int]:
    counts = {}
    authors = conn.execute("SELECT id FROM author ORDER BY id").fetchall()
    for (author_id,) in authors:  # loop: nightly_counts
        sql = "SELECT count(*) FROM post WHERE author_id = ?"
        row = conn.execute(sql, (author_id,)).fetchone()  # n+1: nightly_counts
        counts[author_id] = row[0]
    return counts


def main(path: str) -> None:
    conn = sqlite3.connect(path)
    setup(conn)
    author_names(conn)
    with perfdoctor.trace("nightly"):
        nightly_counts(conn)
    conn.commit()
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1])
