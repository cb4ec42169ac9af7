"""Flask pages that are fast but now and then slow, asked SLOW_EVERY-th time
after time through the test client under ``perfdoctor run``:

* ``/page``: its query waits 60 ms (the same statement: a lock wait);
* ``/listing``: its cache is cold, so it reads the rows one at a time (an N+1
  only the slow requests run) and renders for 60 ms; warm, one query;
* ``/report``: the same read with the same parameters every time, 60 ms when the
  database's own cache is cold, at once when warm;
* ``/notify``: saves, then posts to a webhook that acknowledges (202), in 60 ms
  when the remote is slow, at once otherwise.

Usage: now_and_then_app.py DB REQUESTS SLOW_EVERY [PATH]
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
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


@app.route("/listing")
def listing() -> str:
    served[0] += 1
    conn = sqlite3.connect(DB)
    ids = [row[0] for row in conn.execute("SELECT id FROM item")]
    if served[0] % SLOW_EVERY == 0:
        names = [
            conn.execute("SELECT name FROM item WHERE id = ?", (i,)).fetchone()[0] for i in ids
        ]
        time.sleep(PAUSE_S)
    else:
        names = [row[0] for row in conn.execute("SELECT name FROM item")]
    conn.close()
    return ",".join(names)


@app.route("/report")
def report() -> str:
    served[0] += 1
    conn = sqlite3.connect(DB)
    cold = served[0] % SLOW_EVERY == 0
    conn.create_function("warming", 0, lambda: _pause(PAUSE_S if cold else 0.0))
    # (A scalar subquery: run once, not once per row.)
    row = conn.execute("SELECT count(*) + (SELECT warming()) FROM item").fetchone()
    conn.close()
    return str(row[0])


class _Webhook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "slow" in self.path:
            time.sleep(PAUSE_S)
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@app.route("/notify")
def notify() -> str:
    served[0] += 1
    conn = sqlite3.connect(DB)
    conn.execute("UPDATE item SET name = name WHERE id = 1")
    conn.commit()
    conn.close()
    time.sleep(0.005)  # the page's own work
    slow = "slow" if served[0] % SLOW_EVERY == 0 else "fast"
    requests.post(f"{WEBHOOK}/hook/{slow}", json={"id": served[0]}, timeout=5)
    return "saved"


_server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
threading.Thread(target=_server.serve_forever, daemon=True).start()
WEBHOOK = f"http://127.0.0.1:{_server.server_address[1]}"


if __name__ == "__main__":
    ask(app, DB, sys.argv[4] if len(sys.argv) > 4 else "/page", REQUESTS, 200)
