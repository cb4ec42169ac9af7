"""Generic WSGI middleware: one trace per request, ended when the body is closed.

    from perfdoctor.capture.wsgi import TraceMiddleware
    app = TraceMiddleware(app)

Framework integrations (Flask, Django) rename the trace to the route template
once their router has matched the request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from perfdoctor.capture import context, identity, routes

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def request_name(environ: dict[str, Any]) -> str:
    return routes.name(
        environ.get("REQUEST_METHOD", "GET"), routes.from_raw_path(environ.get("PATH_INFO", "/"))
    )


class ClosingBody:
    """Passes the body through and ends the trace when the server closes it."""

    def __init__(self, body: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self._body = body
        self._on_close = on_close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._on_close()


def traced_call(
    app: WSGIApp,
    environ: dict[str, Any],
    start_response: Callable[..., Any],
    on_response: Callable[[context.ActiveTrace, dict[str, Any]], None] | None = None,
) -> Iterable[bytes]:
    """Run one WSGI call inside a trace (nested calls join the outer trace)."""
    if not context.state.enabled or context._current.get() is not None:
        return app(environ, start_response)
    trace, token = context.start(request_name(environ), "http")
    try:
        identity.set_user(
            trace,
            identity.from_headers(environ.get("HTTP_AUTHORIZATION"), environ.get("HTTP_COOKIE")),
        )
    except Exception:
        pass

    def recording_start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
        try:
            trace.status = int(status.split(" ", 1)[0])
            trace.attrs["response_headers"] = {
                k.lower(): v for k, v in headers if k.lower() in _KEPT_HEADERS
            }
        except Exception:
            pass
        return start_response(status, headers, *exc)

    try:
        body = app(environ, recording_start_response)
    except BaseException:
        trace.status = trace.status or 500
        context.finish(trace, token)
        raise
    if on_response is not None:
        try:
            on_response(trace, environ)
        except Exception:
            pass
    # The body is consumed after we return, possibly in another context.
    context._current.reset(token)
    return ClosingBody(body, lambda: context.finish(trace, None))


# Response facts worth keeping; never cookies or auth headers.
_KEPT_HEADERS = frozenset(
    {"content-type", "content-length", "cache-control", "etag", "content-encoding", "vary"}
)


class TraceMiddleware:
    """Wrap any WSGI app; each request becomes a trace named ``METHOD /path``."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        return traced_call(self.app, environ, start_response)
