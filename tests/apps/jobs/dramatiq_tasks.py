"""Dramatiq actors: a digest with an N+1 and its fixed twin.

The broker, queue and database come from the environment (see enqueue.py).
"""

from __future__ import annotations

import os
import sqlite3

import dramatiq
from dramatiq.brokers.redis import RedisBroker

dramatiq.set_broker(RedisBroker(url=os.environ["PDJOBS_BROKER"]))
QUEUE = os.environ["PDJOBS_QUEUE"] + "_dramatiq"


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def digest() -> None:
    conn = sqlite3.connect(os.environ["PDJOBS_DB"])
    names = []
    posts = conn.execute("SELECT id, author_id FROM post ORDER BY id").fetchall()
    for _post_id, author_id in posts:  # loop: dramatiq_digest
        sql = "SELECT name FROM author WHERE id = ?"
        row = conn.execute(sql, (author_id,)).fetchone()  # n+1: dramatiq_digest
        names.append(row[0])
    conn.close()


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def digest_fixed() -> None:
    conn = sqlite3.connect(os.environ["PDJOBS_DB"])
    sql = "SELECT post.id, author.name FROM post JOIN author ON author.id = post.author_id"
    conn.execute(sql).fetchall()
    conn.close()
