"""A Flask shop that calls an external API with requests: each problem and its fix.

``flask --app flask_shop run``; the API's base URL comes from ``SHOP_UPSTREAM``.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from flask import Flask, jsonify

app = Flask(__name__)
UPSTREAM = os.environ["SHOP_UPSTREAM"]
BASKET = list(range(1, 9))
TIMEOUT = (3.05, 10)


@app.get("/health")
def health() -> Any:
    return jsonify(ok=True)


@app.get("/basket")
def basket() -> Any:
    items = []
    for item_id in BASKET:  # loop: basket
        answer = requests.get(f"{UPSTREAM}/items/{item_id}", timeout=TIMEOUT)  # n+1: basket
        items.append(answer.json())
    return jsonify(items=items)


@app.get("/basket/fixed")
def basket_fixed() -> Any:
    ids = ",".join(map(str, BASKET))
    return jsonify(items=requests.get(f"{UPSTREAM}/items?ids={ids}", timeout=TIMEOUT).json())


def _get(path: str) -> Any:
    return requests.get(f"{UPSTREAM}{path}", timeout=TIMEOUT).json()


@app.get("/dashboard/<int:user_id>")
def dashboard(user_id: int) -> Any:
    url = f"{UPSTREAM}/users/{user_id}?delay=30"
    user = requests.get(url, timeout=TIMEOUT).json()  # sequential: dashboard
    orders = requests.get(f"{UPSTREAM}/orders/{user_id}?delay=30", timeout=TIMEOUT).json()
    stock = requests.get(f"{UPSTREAM}/stock/{user_id}?delay=30", timeout=TIMEOUT).json()
    return jsonify(user=user, orders=orders, stock=stock)


@app.get("/dashboard/<int:user_id>/fixed")
def dashboard_fixed(user_id: int) -> Any:
    paths = [f"/{kind}/{user_id}?delay=30" for kind in ("users", "orders", "stock")]
    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        user, orders, stock = pool.map(_get, paths)
    return jsonify(user=user, orders=orders, stock=stock)


@app.get("/profile/<int:user_id>")
def profile(user_id: int) -> Any:
    return jsonify(requests.get(f"{UPSTREAM}/users/{user_id}").json())  # no-timeout: profile


@app.get("/profile/<int:user_id>/fixed")
def profile_fixed(user_id: int) -> Any:
    return jsonify(requests.get(f"{UPSTREAM}/users/{user_id}", timeout=TIMEOUT).json())


@app.get("/prices")
def prices() -> Any:
    answer = requests.get(f"{UPSTREAM}/rates?base=USD", timeout=TIMEOUT)  # uncached: prices
    return jsonify(answer.json())


_rates: dict[str, tuple[float, Any]] = {}
_rates_lock = threading.Lock()


@app.get("/prices/fixed")
def prices_fixed() -> Any:
    with _rates_lock:
        hit = _rates.get("USD")
        if hit is None or time.monotonic() - hit[0] > 60:
            hit = (
                time.monotonic(),
                requests.get(f"{UPSTREAM}/rates?base=USD", timeout=TIMEOUT).json(),
            )
            _rates["USD"] = hit
    return jsonify(hit[1])
