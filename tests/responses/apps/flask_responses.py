"""A Flask app with one endpoint per response detector, and the idiomatic fix of each.

Served by gunicorn under ``perfdoctor run --memory`` in tests/responses.  The
outbound "welcome email" API is a local server whose URL comes in WEBHOOK_URL.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
import time
from typing import Any

import requests
from flask import Flask, Response, jsonify, make_response, request

app = Flask(__name__)
ITEMS = [{"id": i, "name": f"item {i}", "price": i * 3 % 97} for i in range(150)]
CATALOG = [{"sku": f"SKU-{i:04d}", "title": f"Product number {i}"} for i in range(60)]
WEBHOOK = os.environ.get("WEBHOOK_URL", "http://127.0.0.1:9/")
outbox: queue.Queue[dict[str, Any]] = queue.Queue()


def _user() -> str:
    return request.headers.get("Authorization", "").removeprefix("Bearer ")


@app.get("/items")
def items() -> Response:
    return jsonify(ITEMS)  # every row, whatever the table's size


@app.get("/items/paged")
def items_paged() -> Response:
    page = int(request.args.get("page", 1))
    rows = ITEMS[(page - 1) * 50 : page * 50]
    return jsonify(count=len(ITEMS), next=f"/items/paged?page={page + 1}", results=rows)


@app.get("/items/limited")
def items_limited() -> Response:
    return jsonify(ITEMS[: int(request.args.get("limit", 20))])


@app.get("/catalog")
def catalog() -> Response:
    return jsonify(CATALOG)


_polls = itertools.count()


@app.get("/status")
def status() -> Response:
    # A status poll (healthchecks' checks status): the same page until something
    # changes, here every fifth request.
    version = next(_polls) // 5
    return jsonify(version=version, checks=CATALOG)


@app.get("/catalog/cached")
def catalog_cached() -> Response:
    # The fix perfdoctor prints for /catalog, as written (a view returning data).
    response = make_response(CATALOG)
    response.cache_control.max_age = 60
    response.cache_control.public = True
    response.set_etag("catalog-v1")
    return response.make_conditional(request)


@app.get("/me/public")
def me_public() -> Response:
    response = jsonify(user=_user(), orders=[{"id": 1, "total": 30}])
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


@app.get("/me/private")
def me_private() -> Response:
    response = jsonify(user=_user(), orders=[{"id": 1, "total": 30}])
    response.cache_control.private = True
    response.cache_control.max_age = 300
    return response


@app.get("/slow")
def slow() -> Response:
    time.sleep(0.55)
    return jsonify(ok=True)


@app.get("/fast")
def fast() -> Response:
    return jsonify(ok=True)


@app.get("/report/big")
def report_big() -> Response:
    canvas = bytearray(120 * 1024 * 1024)  # high-memory: canvas
    for row in range(0, len(canvas), 4 * 1024 * 1024):
        canvas[row] = 1
        time.sleep(0.002)
    return jsonify(size=len(canvas))


@app.get("/report/small")
def report_small() -> Response:
    total = 0
    for _ in range(30):
        strip = bytearray(4 * 1024 * 1024)
        strip[0] = 1
        total += len(strip)
    return jsonify(size=total)


@app.post("/signup")
def signup() -> Response:
    requests.post(WEBHOOK, json={"template": "welcome"}, timeout=5)  # background: welcome
    return jsonify(ok=True)


@app.post("/checkout")
def checkout() -> Response:
    # Slow, but the answer is what the client asked for: not deferrable.
    quote = requests.post(WEBHOOK.replace("/send", "/quote"), json={}, timeout=5).json()
    return jsonify(quote=quote)


@app.post("/signup/queued")
def signup_queued() -> Response:
    outbox.put({"template": "welcome"})
    return jsonify(ok=True, queued=True)


def _send_outbox() -> None:
    while True:
        message = outbox.get()
        requests.post(WEBHOOK, json=message, timeout=5)


threading.Thread(target=_send_outbox, daemon=True).start()
