"""RQ jobs: a digest with an N+1 and its fixed twin (the database from the environment)."""

from __future__ import annotations

import os
import sqlite3

import rq


def digest() -> int:
    conn = sqlite3.connect(os.environ["PDJOBS_DB"])
    names = []
    posts = conn.execute("SELECT id, author_id FROM post ORDER BY id").fetchall()
    for _post_id, author_id in posts:  # loop: rq_digest
        sql = "SELECT name FROM author WHERE id = ?"
        row = conn.execute(sql, (author_id,)).fetchone()  # n+1: rq_digest
        names.append(row[0])
    conn.close()
    return len(names)


def digest_fixed() -> int:
    conn = sqlite3.connect(os.environ["PDJOBS_DB"])
    sql = "SELECT post.id, author.name FROM post JOIN author ON author.id = post.author_id"
    names = [name for _post_id, name in conn.execute(sql).fetchall()]
    conn.close()
    return len(names)


class Worker(rq.Worker):
    """RQ's forking worker without its command channel (stop-job/shutdown over pub/sub).

    Its listening thread waits up to 60 s for a message and may miss the reply to
    its own UNSUBSCRIBE at exit, holding a burst worker for a minute (rq#1613):
    the tests send it no commands.
    """

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass
