"""What every outbound HTTP integration shares: URL templates, timeouts, one span per call.

A call made through requests goes on through urllib3; through a ``requests``
session it may follow redirects by calling ``send`` again.  Only the outermost
library records: :func:`begin` marks the call in a context variable, and any
library beneath it sees the mark and stays silent (:func:`inner`).
"""

from __future__ import annotations

import contextvars
import socket
from collections.abc import Callable
from typing import Any, Optional
from urllib.parse import urlsplit

from perfdoctor.capture import routes
from perfdoctor.capture.context import ActiveTrace, current, perf_counter, record_span
from perfdoctor.capture.privacy import keyed_digest

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# Response bodies up to this size are digested (uncached-external compares them):
# a quarter of a millisecond of blake2b at most. A bigger body is compared by size.
_MAX_DIGESTED_BODY = 256 * 1024


class Call:
    """One outbound call in progress: its trace, its start and what is known so far."""

    __slots__ = ("attrs", "started", "trace")

    def __init__(self, trace: ActiveTrace, attrs: dict[str, Any]) -> None:
        self.trace = trace
        self.attrs = attrs
        self.started = perf_counter()


_active: contextvars.ContextVar[Call | None] = contextvars.ContextVar(
    "perfdoctor_http_call", default=None
)


def inner() -> Call | None:
    """The outer library's call when this one runs beneath it (requests over urllib3).

    Only a call of the same trace is outer: an app served in-process by a client's
    call (Starlette's TestClient sends through httpx) inherits the client's context,
    but the calls it makes while serving the request are that request's own.
    """
    call = _active.get()
    if call is None or call.trace is not current():
        return None
    return call


def begin(system: str, method: Any, url: Any) -> tuple[Call, contextvars.Token[Any]] | None:
    """Start recording a call, or None when nothing is traced or an outer library records it.

    ``url`` may be a callable that builds it, so that building it cannot raise into the app.
    """
    try:
        trace = current()
        if trace is None or inner() is not None:
            return None
        if callable(url):
            url = url()
        call = Call(trace, describe(system, method, url))
        return call, _active.set(call)
    except Exception:  # pragma: no cover - defensive: never break the host app
        return None


def end(
    call: Call,
    token: contextvars.Token[Any],
    *,
    status: int | None,
    body: Any = None,
    headers: Any = None,
    error: BaseException | None = None,
    blocking: bool,
) -> None:
    """Close the call and append its span.  Never raises."""
    ended = perf_counter()
    try:
        _active.reset(token)
    except ValueError:  # reset from another context: forget the mark all the same
        _active.set(None)
    # Five frames up: record_span() <- record() <- end() <- send()/send_async()
    # <- the integration's wrapper <- the library's caller.
    record(call, ended, status, body, headers, error, blocking=blocking, skip=5)


def record(
    call: Call,
    ended: float,
    status: int | None,
    body: Any,
    headers: Any,
    error: BaseException | None,
    *,
    blocking: bool,
    skip: int,
) -> None:
    """Append the span of a call that ended at ``ended``.  Never raises.

    ``skip`` is :func:`perfdoctor.capture.context.record_span`'s: how many frames
    above it the search for the app's call site starts.
    """
    try:
        attrs = call.attrs
        attrs["status"] = None if error is not None else status
        if error is not None:
            attrs["error"] = type(error).__name__
        size, digest = _body_facts(body, headers)
        attrs["bytes"] = size
        if not blocking:
            attrs["async"] = True  # awaited: the fix for many calls is asyncio.gather
        if digest is not None:
            attrs["response_digest"] = digest
        record_span(call.trace, "http", call.started, ended, attrs, blocking=blocking, skip=skip)
    except Exception:  # pragma: no cover - defensive
        pass


# What a response gives the span: (status, the body if already in memory, headers).
ResponseFacts = Callable[[Any], tuple[Optional[int], Any, Any]]


def send(
    started: tuple[Call, contextvars.Token[Any]],
    original: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    facts: ResponseFacts,
    error_facts: Callable[[BaseException], tuple[int | None, Any, Any] | None] | None = None,
) -> Any:
    """Make a blocking call begun with :func:`begin` and end its span.

    Every integration closes its span the same way; only how a response is
    read differs (``facts``).  ``error_facts`` reads the response out of an
    exception that carries one (urllib's ``HTTPError`` for a 4xx or 5xx), and
    returns None for any other.  The app's own exception propagates unchanged.
    """
    call, token = started
    try:
        response = original(*args, **kwargs)
    except BaseException as exc:
        answered = None
        if error_facts is not None:
            try:
                answered = error_facts(exc)
            except Exception:  # pragma: no cover - defensive
                answered = None
        if answered is None:
            end(call, token, status=None, error=exc, blocking=True)
        else:
            status, body, headers = answered
            end(call, token, status=status, body=body, headers=headers, blocking=True)
        raise
    status, body, headers = facts(response)
    end(call, token, status=status, body=body, headers=headers, blocking=True)
    return response


async def send_async(
    started: tuple[Call, contextvars.Token[Any]],
    original: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    facts: ResponseFacts,
) -> Any:
    """:func:`send` for an awaited call."""
    call, token = started
    try:
        response = await original(*args, **kwargs)
    except BaseException as exc:
        end(call, token, status=None, error=exc, blocking=False)
        raise
    status, body, headers = facts(response)
    end(call, token, status=status, body=body, headers=headers, blocking=False)
    return response


def note_timeout(call: Call, value: Any, sentinel: Any = None) -> None:
    """Record the timeout in effect (see :func:`timeout_seconds`).  Never raises."""
    try:
        call.attrs["timeout"] = timeout_seconds(value, sentinel)
    except Exception:  # pragma: no cover - an unknown timeout type: leave it unknown
        call.attrs.pop("timeout", None)


def describe(system: str, method: Any, url: Any) -> dict[str, Any]:
    """The span's facts known before the call: never the query, headers or body."""
    return {"system": system, "method": str(method).upper(), **url_facts(str(url)), "timeout": None}


def url_facts(url: str) -> dict[str, Any]:
    """``host`` (host:port), ``url`` (template: ids collapsed, no query) and
    ``url_digest`` (the exact URL, query included, compared without being stored)."""
    parts = urlsplit(url)
    scheme = (parts.scheme or "http").lower()
    hostname = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or _DEFAULT_PORTS.get(scheme)
    shown = hostname if port == _DEFAULT_PORTS.get(scheme) else f"{hostname}:{port}"
    return {
        "host": f"{hostname}:{port}",
        "url": f"{scheme}://{shown}{url_path_template(parts.path)}",
        "url_digest": keyed_digest(url),
    }


_templates: dict[str, str] = {}


def url_path_template(path: str) -> str:
    found = _templates.get(path)
    if found is None:
        found = routes.from_raw_path(path or "/")
        if not found.startswith("/"):
            found = "/" + found
        if len(_templates) > 5000:
            _templates.clear()
        _templates[path] = found
    return found


def timeout_seconds(value: Any, sentinel: Any = None) -> float | None:
    """The read timeout (how long a slow upstream can hold the call), None for none.

    Understands a number, a ``(connect, read)`` tuple, urllib3's ``Timeout``,
    httpx's ``Timeout`` or its per-request dict, and aiohttp's ``ClientTimeout``.
    ``sentinel`` is a library's "use the socket default" marker.
    """
    if value is None:
        return None
    if sentinel is not None and value is sentinel:
        return socket.getdefaulttimeout()
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, tuple):
        return timeout_seconds(value[-1], sentinel) if value else None
    if isinstance(value, dict):
        return timeout_seconds(value.get("read"), sentinel)
    if hasattr(value, "sock_read") and hasattr(value, "total"):  # aiohttp.ClientTimeout
        total = value.total
        return timeout_seconds(total if total is not None else value.sock_read)
    if hasattr(value, "_read") and hasattr(value, "total"):  # urllib3.Timeout
        read = timeout_seconds(value._read, sentinel)
        total = value.total
        if total is None or (sentinel is not None and total is sentinel):
            return read
        return float(total) if read is None else min(float(total), read)
    if hasattr(value, "read") and hasattr(value, "connect"):  # httpx.Timeout
        return timeout_seconds(value.read, sentinel)
    return None


def _body_facts(body: Any, headers: Any) -> tuple[int | None, str | None]:
    """Body size and digest when the body is already in memory; else Content-Length."""
    if isinstance(body, (bytes, bytearray)):
        digest = keyed_digest(bytes(body)) if len(body) <= _MAX_DIGESTED_BODY else None
        return len(body), digest
    if headers is not None:
        try:
            length = headers.get("content-length")
            if length is not None:
                return int(length), None
        except (TypeError, ValueError, AttributeError):
            pass
    return None, None
