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
