"""Celery tasks: a digest with an N+1 and its fixed twin.

The broker, queue and database come from the environment (see enqueue.py).
"""

from __future__ import annotations

import os
import sqlite3

from celery import Celery

# A result backend too: storing each run's result happens inside its trace.
app = Celery("celery_tasks", broker=os.environ["PDJOBS_BROKER"], backend=os.environ["PDJOBS_BROKER"])
app.conf.update(
    task_default_queue=os.environ["PDJOBS_QUEUE"] + "_celery",
    result_expires=60,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task
def digest() -> int:
    conn = sqlite3.connect(os.environ["PDJOBS_DB"])
    names = []
    posts = conn.execute("SELECT id, author_id FROM post ORDER BY id").fetchall()
    for _post_id, author_id in posts:  # loop: celery_digest
        sql = "SELECT name FROM author WHERE id = ?"
        row = conn.execute(sql, (author_id,)).fetchone()  # n+1: celery_digest
        names.append(row[0])
    conn.close()
    return len(names)


@app.task
def digest_fixed() -> int:
    conn = sqlite3.connect(os.environ["PDJOBS_DB"])
    sql = "SELECT post.id, author.name FROM post JOIN author ON author.id = post.author_id"
    names = [name for _post_id, name in conn.execute(sql).fetchall()]
    conn.close()
    return len(names)
