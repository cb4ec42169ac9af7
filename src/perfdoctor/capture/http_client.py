"""http.client: one ``http`` span per request sent on an ``HTTPConnection``.

For code that uses http.client itself, and for SDKs built on it.  A request
is not one call here: it starts in ``putrequest`` (which ``request`` calls,
and low-level users call themselves), is sent by ``endheaders`` (which opens
the connection when none is open) and ends when ``getresponse`` has read the
status line and headers; the body is read afterwards, so its size is the
``Content-Length``.  The call in progress is kept on the connection object, not
in a context variable, since nothing guarantees the three calls come from one
frame.  A failure on the way (refused, timed out) ends the span there.  The
call site is the app's line that waited for the answer: its ``getresponse()``,
or its call into the SDK that made the request.

Under urllib.request, urllib3 or requests the outer library records the call
(:func:`perfdoctor.capture.outbound.inner`) and this layer stays silent; it
only tells urllib's call whether the connection was already open.

The timeout in effect is the connection's (``HTTPConnection(host, timeout=)``);
its default is the socket default, which is no timeout unless the program set
one.  ``connection_reused`` says whether the request went over a connection
already open (keep-alive) rather than a new one.
"""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable
from types import ModuleType
from typing import Any

from perfdoctor.capture import outbound
from perfdoctor.capture.context import current, perf_counter

SYSTEM = "http.client"
_MARK = "__perfdoctor_wrapped__"
_CALL = "_perfdoctor_call"
# The frames above record_span where the app's call site search starts:
# record_span() <- outbound.record() <- _finish() <- the wrapper <- its caller.
_SKIP = 4


def _full_url(conn: Any, url: str) -> str:
    if "://" in url[:16]:  # absolute form, sent to a proxy
        return url
    host = conn._tunnel_host or conn.host
    port = conn._tunnel_port or conn.port
    if ":" in str(host) and not str(host).startswith("["):
        host = f"[{host}]"
    scheme = "https" if getattr(conn, "default_port", 80) == 443 else "http"
    return f"{scheme}://{host}:{port}{url}"


def _start(conn: Any, method: Any, url: Any) -> None:
    """Note the call about to be made on ``conn``, when it is the outermost one."""
    try:
        conn.__dict__.pop(_CALL, None)
        outer = outbound.inner()
        if outer is not None:
            if outer.attrs.get("system") == "urllib" and "connection_reused" not in outer.attrs:
                outer.attrs["connection_reused"] = conn.sock is not None
            return
        trace = current()
        if trace is None:
            return
        call = outbound.Call(trace, outbound.describe(SYSTEM, method, _full_url(conn, str(url))))
        outbound.note_timeout(call, conn.timeout, socket._GLOBAL_DEFAULT_TIMEOUT)  # type: ignore[attr-defined]
        call.attrs["connection_reused"] = conn.sock is not None
        setattr(conn, _CALL, call)
    except Exception:  # pragma: no cover - defensive: never break the host app
        pass


def _finish(conn: Any, response: Any = None, error: BaseException | None = None) -> None:
    ended = perf_counter()
    try:
        call = conn.__dict__.pop(_CALL, None)
        if call is None:
            return
        status = headers = None
        if response is not None:
            status, headers = response.status, response.msg
        outbound.record(call, ended, status, None, headers, error, blocking=True, skip=_SKIP)
    except Exception:  # pragma: no cover - defensive
        pass


def _wrap_putrequest(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def putrequest(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        _start(self, method, url)
        try:
            return original(self, method, url, *args, **kwargs)
        except BaseException as exc:
            _finish(self, error=exc)
            raise

    setattr(putrequest, _MARK, True)
    return putrequest


def _wrap_endheaders(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def endheaders(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        except BaseException as exc:
            if _CALL in self.__dict__:
                _finish(self, error=exc)
            raise

    setattr(endheaders, _MARK, True)
    return endheaders


def _wrap_getresponse(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def getresponse(self: Any) -> Any:
        if _CALL not in self.__dict__:
            return original(self)
        try:
            response = original(self)
        except BaseException as exc:
            _finish(self, error=exc)
            raise
        _finish(self, response)
        return response

    setattr(getresponse, _MARK, True)
    return getresponse


def install(module: ModuleType) -> None:
    connection = module.HTTPConnection
    if getattr(connection.putrequest, _MARK, False):
        return
    connection.putrequest = _wrap_putrequest(connection.putrequest)
    connection.endheaders = _wrap_endheaders(connection.endheaders)
    connection.getresponse = _wrap_getresponse(connection.getresponse)
