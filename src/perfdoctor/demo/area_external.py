"""Outbound HTTP: the blog calls an "external" API, badly and then well.

``setup`` starts a small stand-in for a third-party API on 127.0.0.1 (a daemon
thread; each answer takes 20-40 ms, like a nearby service) and the endpoints
below call it with requests:

* ``/external/authors/<id>/books``: one call per book (``n-plus-one-http``);
* ``/external/authors/<id>/dashboard``: three independent calls, one after
  another (``sequential-http``);
* ``/external/authors/<id>/weather``: a call with no timeout (``http-no-timeout``);
* ``/external/prices``: the same exchange rates fetched on every request
  (``uncached-external``).

Each has a ``/fixed`` twin: a batch call, a thread pool, ``timeout=``, a TTL cache.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from flask import Blueprint, Flask, Response, current_app, jsonify

ENDPOINTS = (
    "/external/authors/{author_id}/books",
    "/external/authors/{author_id}/books/fixed",
    "/external/authors/{author_id}/dashboard",
    "/external/authors/{author_id}/dashboard/fixed",
    "/external/authors/{author_id}/weather",
    "/external/authors/{author_id}/weather/fixed",
    "/external/prices",
    "/external/prices/fixed",
)

BOOKS_PER_AUTHOR = 6
# (connect, read) in seconds: what every call to a remote service should carry.
TIMEOUT = (3.05, 10.0)
RATES_TTL_S = 300.0

blueprint = Blueprint("external", __name__, url_prefix="/external")


# --- the stand-in for a third-party API ---------------------------------------


class _ExternalApi(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        query = parse_qs(url.query)
        if parts == ["books"] and "ids" in query:
            ids = [int(i) for i in query["ids"][0].split(",") if i.isdigit()]
            self._answer([_book(i) for i in ids], delay_ms=30)
        elif len(parts) == 2 and parts[0] == "books" and parts[1].isdigit():
            self._answer(_book(int(parts[1])), delay_ms=20)
        elif len(parts) == 2 and parts[0] in ("profiles", "orders", "stock", "weather"):
            self._answer({"kind": parts[0], "id": parts[1]}, delay_ms=30)
        elif parts == ["rates"]:
            self._answer({"base": "USD", "EUR": 0.92, "GBP": 0.79}, delay_ms=40)
        else:
            self._answer({"error": "not found"}, delay_ms=0, status=404)

    def _answer(self, payload: Any, delay_ms: int, status: int = 200) -> None:
        time.sleep(delay_ms / 1000.0)
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=300")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the demo's output stays the driver's


def _book(book_id: int) -> dict[str, Any]:
    return {"id": book_id, "title": f"Book {book_id}", "pages": 100 + book_id % 300}


def setup(app: Flask) -> None:
    """Start the external API on a free port; its base URL goes in ``app.config``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ExternalApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="demo-external-api", daemon=True).start()
    app.config["EXTERNAL_API"] = f"http://127.0.0.1:{server.server_address[1]}"


def api(path: str) -> str:
    return f"{current_app.config['EXTERNAL_API']}{path}"


def book_ids(author_id: int) -> list[int]:
    return [author_id * 100 + n for n in range(BOOKS_PER_AUTHOR)]


# --- n-plus-one-http ----------------------------------------------------------


@blueprint.get("/authors/<int:author_id>/books")
def author_books(author_id: int) -> Response:
    books = []
    for book_id in book_ids(author_id):
        # One round trip per book: the page waits for all of them in turn.
        books.append(requests.get(api(f"/books/{book_id}"), timeout=TIMEOUT).json())
    return jsonify(books=books)


@blueprint.get("/authors/<int:author_id>/books/fixed")
def author_books_fixed(author_id: int) -> Response:
    # The API's batch endpoint: every book in one call.
    ids = ",".join(str(i) for i in book_ids(author_id))
    return jsonify(books=requests.get(api(f"/books?ids={ids}"), timeout=TIMEOUT).json())


# --- sequential-http ----------------------------------------------------------


def fetch(url: str) -> Any:
    return requests.get(url, timeout=TIMEOUT).json()


@blueprint.get("/authors/<int:author_id>/dashboard")
def author_dashboard(author_id: int) -> Response:
    # Three calls that need nothing from each other, each waiting for the last.
    profile = requests.get(api(f"/profiles/{author_id}"), timeout=TIMEOUT).json()
    orders = requests.get(api(f"/orders/{author_id}"), timeout=TIMEOUT).json()
    stock = requests.get(api(f"/stock/{author_id}"), timeout=TIMEOUT).json()
    return jsonify(profile=profile, orders=orders, stock=stock)


@blueprint.get("/authors/<int:author_id>/dashboard/fixed")
def author_dashboard_fixed(author_id: int) -> Response:
    # The same calls in flight together: the page waits for the slowest only.
    # (URLs are built here: Flask's app context does not follow into the pool's threads.)
    urls = [api(f"/profiles/{author_id}"), api(f"/orders/{author_id}"), api(f"/stock/{author_id}")]
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        profile, orders, stock = pool.map(fetch, urls)
    return jsonify(profile=profile, orders=orders, stock=stock)


# --- http-no-timeout ----------------------------------------------------------


@blueprint.get("/authors/<int:author_id>/weather")
def author_weather(author_id: int) -> Response:
    # No timeout: if the weather service stalls, so does this worker, for ever.
    return jsonify(weather=requests.get(api(f"/weather/{author_id}")).json())


@blueprint.get("/authors/<int:author_id>/weather/fixed")
def author_weather_fixed(author_id: int) -> Response:
    return jsonify(weather=requests.get(api(f"/weather/{author_id}"), timeout=TIMEOUT).json())


# --- uncached-external --------------------------------------------------------

PRICES_USD = {"basic": 10.0, "plus": 25.0, "pro": 60.0}


def usd_rates() -> dict[str, float]:
    rates: dict[str, float] = requests.get(api("/rates"), timeout=TIMEOUT).json()
    return rates


@blueprint.get("/prices")
def prices() -> Response:
    # The rates change a few times a day, yet every price fetches them again.
    return jsonify({plan: round(usd * usd_rates()["EUR"], 2) for plan, usd in PRICES_USD.items()})


_rates_cache: dict[str, tuple[float, dict[str, float]]] = {}
_rates_lock = threading.Lock()


def cached_usd_rates() -> dict[str, float]:
    """The rates, fetched at most once per RATES_TTL_S (the API's own max-age)."""
    with _rates_lock:
        hit = _rates_cache.get("USD")
        if hit is None or time.monotonic() - hit[0] > RATES_TTL_S:
            hit = (time.monotonic(), requests.get(api("/rates"), timeout=TIMEOUT).json())
            _rates_cache["USD"] = hit
        return hit[1]


@blueprint.get("/prices/fixed")
def prices_fixed() -> Response:
    rates = cached_usd_rates()
    return jsonify({plan: round(usd * rates["EUR"], 2) for plan, usd in PRICES_USD.items()})
