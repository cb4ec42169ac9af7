"""Bare WSGI and ASGI callables (no framework): perfdoctor's generic middleware traces them."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from tests.bench import blogdb


def _count() -> bytes:
    conn = sqlite3.connect(blogdb.PATH)
    try:
        (count,) = conn.execute("SELECT count(*) FROM article").fetchone()
    finally:
        conn.close()
    return str(count).encode()


def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("boom")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [_count()]


async def asgi(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": _count()})
