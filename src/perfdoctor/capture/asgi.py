"""Generic ASGI middleware: one trace per HTTP request.

    from perfdoctor.capture.asgi import TraceMiddleware
    app = TraceMiddleware(app)

The route template is read from the scope after the app has routed it
(FastAPI's ``scope["route"]``, Starlette's matched route); a 404 the router
gave for matching no route is ``METHOD <unmatched>``.  An app without a router
perfdoctor knows, or a response given before routing (a CORS preflight), is
named by its path with ids, tokens and e-mail addresses templated.

A streamed body needs nothing more: the app's call lasts until its last body
message (or the client's disconnect), and the tasks a ``StreamingResponse`` or
a ``BaseHTTPMiddleware`` streams from copy the context, trace included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from perfdoctor.capture import context, identity, nested, routes, server_timing
from perfdoctor.capture.response import KEPT_HEADERS, BodyMeter, handler_location, query_names_of

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_KEPT_HEADERS = frozenset(h.encode("ascii") for h in KEPT_HEADERS)


def route_template(scope: Scope, root_path: str = "") -> str | None:
    """The template of the route that answered, or None when no route did.

    ``root_path`` is the scope's before the app ran: a mount adds its prefix.
    """
    # Recent FastAPI matches an included router's routes in place: the prefix given
    # to include_router() is only in the route's effective context.
    effective = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(effective, "path_format", None)
    if isinstance(path, str) and path:
        return _rooted(scope, path)
    route = scope.get("route")
    if route is not None and not _is_mount(route):
        path = getattr(route, "path", None) or getattr(route, "path_format", None)
        if isinstance(path, str):
            return _rooted(scope, path)
    endpoint = scope.get("endpoint")
    router = getattr(scope.get("app"), "routes", None) or getattr(
        scope.get("router"), "routes", None
    )
    if endpoint is not None and router:
        for candidate in router:
            if getattr(candidate, "endpoint", None) is endpoint and isinstance(
                getattr(candidate, "path", None), str
            ):
                return _rooted(scope, candidate.path)
    return _mounted(scope, endpoint, root_path)


def _rooted(scope: Scope, path: str) -> str:
    # A route at "" in an app mounted at the root answers "/".
    return routes.from_brace_template(scope.get("root_path", "") + path) or "/"


def _is_mount(route: Any) -> bool:
    return hasattr(route, "app") and not hasattr(route, "endpoint")


def _mounted(scope: Scope, endpoint: Any, root_path: str) -> str | None:
    """``/static/{path}`` when an app mounted there without routes of its own
    (StaticFiles, a WSGI app) answered; None for a mounted router that matched nothing."""
    mounted_at = scope.get("root_path", "")
    if endpoint is None or mounted_at == root_path or getattr(endpoint, "routes", None):
        return None
    return routes.from_brace_template(mounted_at) + "/{path}"


_SERVER_TIMING = server_timing.HEADER.lower().encode("ascii")


def _with_server_timing(
    trace: context.ActiveTrace, message: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """The response start ``message`` with our Server-Timing metrics (a copy)."""
    value = server_timing.value(trace)
    if value is None:
        return message
    try:
        headers = list(message.get("headers") or [])
        existing = [v.decode("latin-1") for k, v in headers if k.lower() == _SERVER_TIMING]
        rest = [(k, v) for k, v in headers if k.lower() != _SERVER_TIMING]
        ours = server_timing.joined(", ".join(existing), value).encode("latin-1")
        return {**message, "headers": [*rest, (_SERVER_TIMING, ours)]}
    except Exception:
        return message


def _request_facts(trace: context.ActiveTrace, scope: Scope) -> None:
    """The query's parameter names and the user, on ``trace``.  Never raises."""
    try:
        query = scope.get("query_string") or b""
        trace.attrs["query_names"] = query_names_of(query.decode("latin-1"))
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization")
        cookie = headers.get(b"cookie")
        identity.set_user(
            trace,
            identity.from_headers(
                authorization.decode("latin-1") if authorization else None,
                cookie.decode("latin-1") if cookie else None,
            ),
        )
    except Exception:
        pass


class TraceMiddleware:
    def __init__(self, app: ASGIApp, framework: str | None = None) -> None:
        self.app = app
        # The web framework serving the app (starlette, fastapi), for fixes that name it.
        self.framework = framework

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope.get("type") != "http"
            or not context.state.enabled
            or context._current.get() is not None
        ):
            mark = nested.begin() if scope.get("type") == "http" else None
            try:
                await self.app(scope, receive, send)
            finally:
                nested.end(mark, str(scope.get("method") or "GET"))
            return
        method = scope.get("method", "GET")
        root_path = scope.get("root_path", "")
        trace, token = context.start(
            routes.name(method, routes.from_raw_path(scope.get("path", "/"))), "http"
        )
        trace.attrs["async"] = True
        if self.framework:
            trace.attrs["framework"] = self.framework
        meter = BodyMeter()
        # A summary (``--sample-tail summary``) keeps its name, status and timings:
        # no user, query names, headers, body measures or handler.
        detail = trace.detail
        if detail:
            _request_facts(trace, scope)

        async def recording_send(message: MutableMapping[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                try:
                    trace.status = int(message.get("status", 0))
                    if detail:
                        kept = {
                            k.decode("latin-1").lower(): v.decode("latin-1")
                            for k, v in message.get("headers", [])
                            if k.lower() in _KEPT_HEADERS
                        }
                        trace.attrs["response_headers"] = kept
                        meter.headers(kept.get("content-type"), kept.get("content-length"))
                except Exception:
                    pass
                if server_timing.switch.on:
                    message = _with_server_timing(trace, message)
            elif message.get("type") == "http.response.body":
                try:
                    if detail:
                        meter.feed(message.get("body") or b"")
                    if not message.get("more_body", False):
                        # What the client waited for; background tasks run after it.
                        trace.attrs["response_ms"] = (context.perf_counter() - trace.start) * 1000.0
                except Exception:
                    pass
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        except BaseException:
            trace.status = trace.status or 500
            raise
        finally:
            try:
                template = route_template(scope, root_path)
                if template:
                    trace.name = routes.name(method, template)
                elif "router" in scope and trace.status == 404:
                    # Starlette's router saw the request and matched no route: one
                    # name for all such paths.  (A route it matched that we cannot
                    # read keeps the templated path.)
                    trace.name = routes.name(method, routes.UNMATCHED)
                endpoint = scope.get("endpoint")
                if endpoint is not None and detail:
                    trace.attrs["handler"] = handler_location(endpoint)
            except Exception:
                pass
            if detail:
                meter.store(trace.attrs)
            context.finish(trace, token)
