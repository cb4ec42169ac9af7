"""Two versions of one WSGI endpoint, as before and after a change that made it worse:
``after`` loads each article's author one query at a time (an N+1) and waits 20 ms
more. ``before_again`` is ``before`` under another name, for A/A runs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from tests.bench import blogdb


def _wsgi(
    page: Callable[[], list[dict[str, object]]], wait_s: float
) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"] != "/articles":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        body = json.dumps(page()).encode()
        time.sleep(wait_s)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return app


before = _wsgi(blogdb.articles_fixed, 0.001)
before_again = _wsgi(blogdb.articles_fixed, 0.001)
after = _wsgi(blogdb.articles_n_plus_one, 0.021)


def _failing(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """``before``'s page, but every request after the first few fails (a 500 is quick)."""
    _failing.calls += 1  # type: ignore[attr-defined]
    if _failing.calls > 3:  # type: ignore[attr-defined]
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b"boom"]
    return before(environ, start_response)


_failing.calls = 0  # type: ignore[attr-defined]
failing = _failing


async def asgi_returns(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A raw ASGI app that answers lifespan by returning (uvicorn's "no lifespan")."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps(blogdb.articles_fixed()).encode()})
