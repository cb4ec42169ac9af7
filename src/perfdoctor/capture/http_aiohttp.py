"""aiohttp: one ``http`` span per ``ClientSession._request`` (every ``get``/``post``...).

The span ends when the response headers are in: the body is read later by the
caller, if at all, so its size is the Content-Length.  The timeout in effect
is the call's ``timeout=``, else the session's (aiohttp's default: 300 s total).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from perfdoctor.capture import outbound

_MARK = "__perfdoctor_wrapped__"


def _facts(response: Any) -> tuple[int | None, Any, Any]:
    # The caller reads the body later, if at all: its size is then the Content-Length.
    return response.status, getattr(response, "_body", None), response.headers


def _wrap_request(original: Callable[..., Any], sentinel: Any) -> Callable[..., Any]:
    @functools.wraps(original)
    async def _request(self: Any, method: str, str_or_url: Any, **kwargs: Any) -> Any:
        started = outbound.begin("aiohttp", method, lambda: _absolute(self, str_or_url))
        if started is None:
            return await original(self, method, str_or_url, **kwargs)
        # The call's timeout=, else the session's: a ClientTimeout, or aiohttp's older number.
        value = kwargs.get("timeout", sentinel)
        timeout = getattr(self, "_timeout", None) if value is sentinel else value
        outbound.note_timeout(started[0], timeout)
        args = (self, method, str_or_url)
        return await outbound.send_async(started, original, args, kwargs, _facts)

    setattr(_request, _MARK, True)
    return _request


def _absolute(session: Any, url: Any) -> str:
    text = str(url)
    base = getattr(session, "_base_url", None)
    if base is not None and "://" not in text:
        return str(base).rstrip("/") + "/" + text.lstrip("/")
    return text


def install(module: ModuleType) -> None:
    session = module.ClientSession
    if getattr(session._request, _MARK, False):
        return
    from aiohttp.helpers import sentinel

    session._request = _wrap_request(session._request, sentinel)
