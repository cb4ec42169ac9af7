"""A small Flask app for gunicorn: one query per request (``wsgi_app:app``)."""

from __future__ import annotations

import os
import sqlite3

from flask import Flask

app = Flask(__name__)


@app.get("/ready")
def ready() -> dict[str, int]:
    return {"pid": os.getpid()}


@app.get("/items/<int:item_id>")
def item(item_id: int) -> dict[str, int]:
    conn = sqlite3.connect(":memory:")
    (value,) = conn.execute("SELECT ?", (item_id,)).fetchone()
    conn.close()
    return {"item": value, "pid": os.getpid()}
