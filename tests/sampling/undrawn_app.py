"""A Flask app whose one endpoint runs an N+1 loop, the same lookup once more from
another line, then fails: under ``--sample`` with a draw that keeps nothing, the
tail rule keeps every request (it failed) with the call sites of an undrawn one.

Usage: undrawn_app.py DB REQUESTS
"""

from __future__ import annotations

import sqlite3
import sys

from flask import Flask
from items import ask

DB = sys.argv[1]
REQUESTS = int(sys.argv[2])
LOOKUP = "SELECT name FROM item WHERE id = ?"

app = Flask(__name__)
app.logger.disabled = True


@app.route("/orders")
def orders() -> str:
    conn = sqlite3.connect(DB)
    ids = [row[0] for row in conn.execute("SELECT id FROM item")]
    names = []
    for i in ids:
        names.append(conn.execute(LOOKUP, (i,)).fetchone()[0])  # the loop's line
    last = conn.execute(LOOKUP, (ids[0],)).fetchone()[0]  # the same text, another line
    conn.close()
    raise RuntimeError(",".join(names) + last)


if __name__ == "__main__":
    ask(app, DB, "/orders", REQUESTS, 500)
