"""requests: one ``http`` span per ``Session.send``, with the timeout its adapter used.

``Session.send`` covers the whole call (redirects, and the body download when
not streamed); ``HTTPAdapter.send`` is where the timeout in effect is visible,
including one that a custom adapter sets as its default.  requests' default is
no timeout at all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from perfdoctor.capture import outbound

_MARK = "__perfdoctor_wrapped__"


def _facts(response: Any) -> tuple[int | None, Any, Any]:
    # The body, only if requests already read it (never force a stream).
    body = response._content if getattr(response, "_content_consumed", False) else None
    return response.status_code, body, response.headers


def _wrap_session_send(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        started = outbound.begin("requests", getattr(request, "method", "GET"), lambda: request.url)
        if started is None:
            return original(self, request, **kwargs)
        outbound.note_timeout(started[0], kwargs.get("timeout"))
        return outbound.send(started, original, (self, request), kwargs, _facts)

    setattr(send, _MARK, True)
    return send


def _wrap_adapter_send(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        call = outbound.inner()
        if call is not None and call.attrs.get("system") == "requests":
            # send(request, stream, timeout, ...): the timeout this adapter really uses.
            timeout = kwargs.get("timeout", args[1] if len(args) > 1 else None)
            outbound.note_timeout(call, timeout)
        return original(self, request, *args, **kwargs)

    setattr(send, _MARK, True)
    return send


def install_sessions(module: ModuleType) -> None:
    session = module.Session
    if not getattr(session.send, _MARK, False):
        session.send = _wrap_session_send(session.send)


def install_adapters(module: ModuleType) -> None:
    adapter = module.HTTPAdapter
    if not getattr(adapter.send, _MARK, False):
        adapter.send = _wrap_adapter_send(adapter.send)
