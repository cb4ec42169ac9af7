"""Generic WSGI middleware: one trace per request, ended when the body is closed.

    from perfdoctor.capture.wsgi import TraceMiddleware
    app = TraceMiddleware(app)

Framework integrations (Flask, Django) rename the trace to the route template
once their router has matched the request, or to ``METHOD <unmatched>`` when it
matched none.  Without a router perfdoctor knows, the path names the request,
with ids, tokens and e-mail addresses templated (see ``raw_paths``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from perfdoctor.capture import context, identity, nested, routes, server_timing, streams
from perfdoctor.capture.response import KEPT_HEADERS, BodyMeter, query_names_of

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def request_name(environ: dict[str, Any]) -> str:
    return routes.name(
        environ.get("REQUEST_METHOD", "GET"), routes.from_raw_path(environ.get("PATH_INFO", "/"))
    )


class ClosingBody:
    """Passes the body through and calls ``on_close`` when the server closes it.

    With a ``trace``, the body's own ``close()`` runs as part of that trace (a
    generator's ``finally`` may still query).
    """

    def __init__(
        self,
        body: Iterable[bytes],
        on_close: Callable[[], None],
        trace: context.ActiveTrace | None = None,
    ) -> None:
        self._body = body
        self._on_close = on_close
        self._trace = trace
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        self._close(self._trace)

    def _close(self, trace: context.ActiveTrace | None) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                if trace is None:
                    close()
                else:
                    streams.within(trace, close)
        finally:
            self._on_close()

    def __del__(self) -> None:
        # A server may drop the body unclosed: werkzeug's development server
        # skips close() when the client has already gone (its read of what is
        # left of the request raises).  The request still happened: end it here.
        # The body's own close() then runs outside the trace: a finalizer may run
        # inside a garbage collection, and setting a context variable there can
        # corrupt the context whose variable was being set when the collection
        # started (CPython before 3.12: a crash in Flask's next request).
        try:
            self._close(None)
        except Exception:
            pass


class MeteredBody(ClosingBody):
    """A :class:`ClosingBody` pulled chunk by chunk inside ``trace``, counted in ``meter``."""

    def __init__(
        self,
        body: Iterable[bytes],
        on_close: Callable[[], None],
        meter: BodyMeter,
        trace: context.ActiveTrace,
    ) -> None:
        super().__init__(body, on_close, trace)
        self._meter = meter
        self._request = trace

    def __iter__(self) -> Iterator[bytes]:
        if type(self._body) in (list, tuple):
            # Nothing of the app's runs while a list is sent: count it, that is all.
            return self._counted()
        return streams.chunks(self._request, self._body, self._meter)

    def _counted(self) -> Iterator[bytes]:
        feed = self._meter.feed
        for chunk in self._body:
            try:
                feed(chunk)
            except Exception:
                pass
            yield chunk
        streams.sent(self._request, self._meter)


def traced_call(
    app: WSGIApp,
    environ: dict[str, Any],
    start_response: Callable[..., Any],
    on_response: Callable[[context.ActiveTrace, dict[str, Any]], None] | None = None,
) -> Iterable[bytes]:
    """Run one WSGI call inside a trace (nested calls join the outer trace)."""
    if not context.state.enabled or context._current.get() is not None:
        mark = nested.begin()
        try:
            return app(environ, start_response)
        finally:
            nested.end(mark, str(environ.get("REQUEST_METHOD") or "GET"))
    trace, token = context.start(request_name(environ), "http")
    if trace.detail:  # a summary (``--sample-tail summary``) keeps no user, no query names
        try:
            user = identity.from_headers(
                environ.get("HTTP_AUTHORIZATION"), environ.get("HTTP_COOKIE")
            )
            identity.set_user(trace, user)
            trace.attrs["query_names"] = query_names_of(environ.get("QUERY_STRING", ""))
        except Exception:
            pass
    meter = BodyMeter()

    def recording_start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
        try:
            trace.status = int(status.split(" ", 1)[0])
            kept = {k.lower(): v for k, v in headers if k.lower() in _KEPT_HEADERS}
            trace.attrs["response_headers"] = kept
            meter.headers(kept.get("content-type"), kept.get("content-length"))
        except Exception:
            pass
        if server_timing.switch.on:
            headers = _with_server_timing(trace, headers)
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

    def finish() -> None:
        meter.store(trace.attrs)
        context.finish(trace, None)

    # The server iterates the body after we return: each of its steps is put
    # back in the trace, which ends when the server closes the body.
    context.hand_off(trace, token, finish)
    return MeteredBody(body, finish, meter, trace)


_KEPT_HEADERS = frozenset(KEPT_HEADERS)


def _with_server_timing(
    trace: context.ActiveTrace, headers: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """``headers`` with our Server-Timing metrics (a new list: the app may reuse its own)."""
    value = server_timing.value(trace)
    if value is None:
        return headers
    try:
        name = server_timing.HEADER.lower()
        existing = [v for k, v in headers if k.lower() == name]
        rest = [(k, v) for k, v in headers if k.lower() != name]
        return [*rest, (server_timing.HEADER, server_timing.joined(", ".join(existing), value))]
    except Exception:
        return headers


class TraceMiddleware:
    """Wrap any WSGI app; each request becomes a trace named ``METHOD /path``."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        return traced_call(self.app, environ, start_response)
