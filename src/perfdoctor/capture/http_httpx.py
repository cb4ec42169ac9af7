"""httpx: one ``http`` span per ``Client.send`` and ``AsyncClient.send``.

The timeout in effect travels with the request (``request.extensions["timeout"]``,
filled from the client's, 5 s by default); a request built by hand without one
has none.  ``send`` follows redirects itself, so a call is one span.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from perfdoctor.capture import outbound

_MARK = "__perfdoctor_wrapped__"


def _timeout_of(request: Any) -> Any:
    extensions = getattr(request, "extensions", None) or {}
    return extensions.get("timeout")


def _facts(response: Any) -> tuple[int | None, Any, Any]:
    # The body is present only once httpx has read it (not for stream=True): never read it here.
    return response.status_code, getattr(response, "_content", None), response.headers


def _begin(request: Any) -> tuple[outbound.Call, Any] | None:
    started = outbound.begin("httpx", getattr(request, "method", "GET"), lambda: request.url)
    if started is not None:
        outbound.note_timeout(started[0], _timeout_of(request))
    return started


def _wrap_send(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        started = _begin(request)
        if started is None:
            return original(self, request, *args, **kwargs)
        return outbound.send(started, original, (self, request, *args), kwargs, _facts)

    setattr(send, _MARK, True)
    return send


def _wrap_async_send(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        started = _begin(request)
        if started is None:
            return await original(self, request, *args, **kwargs)
        return await outbound.send_async(started, original, (self, request, *args), kwargs, _facts)

    setattr(send, _MARK, True)
    return send


def install(module: ModuleType) -> None:
    for name, wrap in (("Client", _wrap_send), ("AsyncClient", _wrap_async_send)):
        cls = getattr(module, name)
        if not getattr(cls.send, _MARK, False):
            cls.send = wrap(cls.send)
