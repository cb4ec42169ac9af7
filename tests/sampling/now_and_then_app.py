"""A Flask page that is fast but now and then slow, in its query: the same
statement waits 60 ms on every SLOW_EVERY-th request (a lock wait, a cold
cache).  Driven by its test client under ``perfdoctor run``.

Usage: now_and_then_app.py DB REQUESTS SLOW_EVERY
"""

from __future__ import annotations

import sqlite3
import sys
import time

from flask import Flask
from items import ask

DB = sys.argv[1]
REQUESTS = int(sys.argv[2])
SLOW_EVERY = int(sys.argv[3])
PAUSE_S = 0.06

app = Flask(__name__)
served = [0]


def _pause(seconds: float) -> int:
    time.sleep(seconds)
    return 0


@app.route("/page")
def page() -> str:
    served[0] += 1
    conn = sqlite3.connect(DB)
    conn.create_function("pause", 1, _pause)
    wait = PAUSE_S if served[0] % SLOW_EVERY == 0 else 0.0
    row = conn.execute(
        "SELECT name FROM item WHERE id = ? AND pause(?) = 0", (served[0] % 8, wait)
    ).fetchone()
    conn.close()
    return str(row[0])


if __name__ == "__main__":
    ask(app, DB, "/page", REQUESTS, 200)
