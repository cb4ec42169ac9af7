"""Seed the database, then enqueue both digests with each library named.

``python enqueue.py celery rq dramatiq``; each library has its own queue,
``$PDJOBS_QUEUE_<library>``.
"""

from __future__ import annotations

import os
import sqlite3
import sys

AUTHORS = 8


def seed() -> None:
    conn = sqlite3.connect(os.environ["PDJOBS_DB"])
    conn.execute("CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("CREATE TABLE post (id INTEGER PRIMARY KEY, author_id INTEGER)")
    conn.executemany(
        "INSERT INTO author (id, name) VALUES (?, ?)",
        [(n, f"author {n}") for n in range(1, AUTHORS + 1)],
    )
    conn.executemany(
        "INSERT INTO post (author_id) VALUES (?)",
        [(n,) for n in range(1, AUTHORS + 1) for _ in range(2)],
    )
    conn.commit()
    conn.close()


def enqueue(library: str) -> None:
    if library == "celery":
        import celery_tasks

        celery_tasks.digest.delay()  # enqueue: celery_digest
        celery_tasks.digest_fixed.delay()
    elif library == "rq":
        import rq_tasks
        from redis import Redis
        from rq import Queue

        name = os.environ["PDJOBS_QUEUE"] + "_rq"
        queue = Queue(name, connection=Redis.from_url(os.environ["PDJOBS_BROKER"]))
        queue.enqueue(rq_tasks.digest)  # enqueue: rq_digest
        queue.enqueue(rq_tasks.digest_fixed)
    else:
        import dramatiq_tasks

        dramatiq_tasks.digest.send()  # enqueue: dramatiq_digest
        dramatiq_tasks.digest_fixed.send()


if __name__ == "__main__":
    seed()
    for library in sys.argv[1:]:
        enqueue(library)
