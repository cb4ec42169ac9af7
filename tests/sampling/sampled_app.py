"""A Flask app driven by its test client: fast requests with an N+1 loop, some
slow ones and some failing ones.  Run under ``perfdoctor run`` (or with
``instrument`` as the first argument, switching capture on itself).

Usage: sampled_app.py DB REQUESTS [instrument RATE TRACES [TAIL]]
"""

from __future__ import annotations

import sqlite3
import sys
import time

if len(sys.argv) > 3 and sys.argv[3] == "instrument":
    import perfdoctor

    tail = sys.argv[6] if len(sys.argv) > 6 else None
    perfdoctor.instrument(sys.argv[5], sample=float(sys.argv[4]), sample_tail=tail)

from flask import Flask
from items import seed

DB = sys.argv[1]
REQUESTS = int(sys.argv[2])
# Every SLOW_EVERY-th request is slow, every FAIL_EVERY-th fails.
SLOW_EVERY = 25
FAIL_EVERY = 20

app = Flask(__name__)
# The failing requests are the point: no traceback for each on stderr.
app.logger.disabled = True


def _connect() -> sqlite3.Connection:
    return sqlite3.connect(DB)


@app.route("/items")
def items() -> str:
    conn = _connect()
    ids = [row[0] for row in conn.execute("SELECT id FROM item")]
    # One query per row: an N+1 every kept trace shows.
    names = [conn.execute("SELECT name FROM item WHERE id = ?", (i,)).fetchone()[0] for i in ids]
    conn.close()
    return ",".join(names)


@app.route("/slow")
def slow() -> str:
    conn = _connect()
    conn.execute("SELECT count(*) FROM item").fetchone()
    conn.close()
    time.sleep(0.06)
    return "slow"


@app.route("/fail")
def fail() -> str:
    conn = _connect()
    conn.execute("SELECT count(*) FROM item").fetchone()
    conn.close()
    raise RuntimeError("boom")


def main() -> None:
    seed(DB)
    client = app.test_client()
    for n in range(1, REQUESTS + 1):
        if n % SLOW_EVERY == 0:
            client.get("/slow")
        elif n % FAIL_EVERY == 0:
            assert client.get("/fail").status_code == 500
        else:
            client.get("/items")


if __name__ == "__main__":
    main()
