"""urllib.request: one ``http`` span per ``urlopen`` (``OpenerDirector.open``) of an http(s) URL.

``open`` covers the whole call, redirects included (a redirect opens the new
URL from inside the first call: one span), and its ``timeout`` argument is the
timeout in effect; the default is the socket default, which is no timeout
unless the program set one.  A 4xx or 5xx answer raises ``HTTPError``, which is
the response: its status is the span's.  The requests beneath go through
http.client, which stays silent under this call (see
:mod:`perfdoctor.capture.http_client`) but for telling it whether the
connection was already open; urllib opens a new one each time.
"""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable
from types import ModuleType
from typing import Any

from perfdoctor.capture import outbound

SYSTEM = "urllib"
_MARK = "__perfdoctor_wrapped__"
_DEFAULT_TIMEOUT = socket._GLOBAL_DEFAULT_TIMEOUT  # type: ignore[attr-defined]


def _facts(response: Any) -> tuple[int | None, Any, Any]:
    return getattr(response, "status", None), None, getattr(response, "headers", None)


def _error_facts(error: BaseException) -> tuple[int | None, Any, Any] | None:
    code = getattr(error, "code", None)
    if type(code) is int and hasattr(error, "headers"):  # urllib.error.HTTPError
        return code, None, error.headers
    return None


def _describe(fullurl: Any, data: Any) -> tuple[str, str] | None:
    """(method, url) of an http(s) request; None for another scheme (file:, data:, ftp:)."""
    if isinstance(fullurl, str):
        url = fullurl.strip()
        method = "GET" if data is None else "POST"
    else:
        url = str(fullurl.full_url)
        # What Request.get_method() will say once open() has set the data.
        body = data if data is not None else fullurl.data
        method = getattr(fullurl, "method", None) or ("GET" if body is None else "POST")
    if not url[:8].lower().startswith(("http://", "https://")):
        return None
    return method, url


def _wrap_open(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def open(self: Any, fullurl: Any, data: Any = None, timeout: Any = _DEFAULT_TIMEOUT) -> Any:
        if outbound.inner() is not None:
            return original(self, fullurl, data, timeout)
        try:
            described = _describe(fullurl, data)
        except Exception:  # pragma: no cover - an object urllib will reject itself
            described = None
        if described is None:
            return original(self, fullurl, data, timeout)
        started = outbound.begin(SYSTEM, described[0], described[1])
        if started is None:
            return original(self, fullurl, data, timeout)
        outbound.note_timeout(started[0], timeout, _DEFAULT_TIMEOUT)
        return outbound.send(
            started, original, (self, fullurl, data, timeout), {}, _facts, _error_facts
        )

    setattr(open, _MARK, True)
    return open


def install(module: ModuleType) -> None:
    opener = module.OpenerDirector
    if not getattr(opener.open, _MARK, False):
        opener.open = _wrap_open(opener.open)
