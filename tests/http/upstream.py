"""A stand-in for an external API on 127.0.0.1: a threaded HTTP server with set delays.

Paths (every answer is JSON):

* ``/items/<id>``: one item, after ``delay`` ms (query parameter, default 15);
* ``/items?ids=1,2,3``: the batch endpoint, one answer for many ids;
* ``/rates``: the same body every time (a cacheable answer);
* ``/users/<id>``, ``/orders/<id>``, ``/stock/<id>``: independent lookups;
* ``/redirect``: a 302 to ``/items/1``;
* ``/stall``: answers after ``delay`` ms (for timeouts);
* ``/stream``: a chunked body, no Content-Length.

A second server, an aiohttp application on its own event loop, answers the same
paths for the async clients' tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.conftest import serving

DEFAULT_DELAY_MS = 15


def answer(path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes, float]:
    """Status, extra headers, body and delay (s) for a request: shared by both servers."""
    delay = float(query.get("delay", [DEFAULT_DELAY_MS])[0]) / 1000.0
    parts = [p for p in path.split("/") if p]
    if path == "/redirect":
        return 302, {"Location": "/items/1"}, b"", 0.0
    if path == "/rates":
        return (
            200,
            {"Cache-Control": "max-age=60"},
            json.dumps({"EUR": 1.08, "GBP": 1.27}).encode(),
            delay,
        )
    if path == "/items" and "ids" in query:
        ids = [int(i) for i in query["ids"][0].split(",") if i]
        return 200, {}, json.dumps([{"id": i, "name": f"item {i}"} for i in ids]).encode(), delay
    if len(parts) == 2 and parts[0] in ("items", "users", "orders", "stock") and parts[1].isdigit():
        return 200, {}, json.dumps({"kind": parts[0], "id": int(parts[1])}).encode(), delay
    if path == "/stall":
        return 200, {}, b'{"late": true}', delay
    return 404, {}, b'{"error": "not found"}', 0.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/stream":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in (b'{"a":', b" 1}"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
            return
        status, headers, body, delay = answer(parts.path, parse_qs(parts.query))
        time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def threaded_upstream() -> Iterator[str]:
    """Serve on a free port in daemon threads; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    with serving(server) as url:
        yield url


@contextlib.contextmanager
def aiohttp_upstream() -> Iterator[str]:
    """The same API as an aiohttp application on its own loop in a thread."""
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        query = {k: request.query.getall(k) for k in request.query}
        status, headers, body, delay = answer(request.path, query)
        await asyncio.sleep(delay)
        return web.Response(
            status=status, body=body, headers=headers, content_type="application/json"
        )

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, object] = {}

    async def start() -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state["runner"] = runner
        state["port"] = runner.addresses[0][1]
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "the aiohttp upstream did not start"
    try:
        yield f"http://127.0.0.1:{state['port']}"
    finally:
        runner = state["runner"]
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)  # type: ignore[attr-defined]
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
