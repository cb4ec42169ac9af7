"""Django: every request traced and named by its URL pattern, with no settings change.

``BaseHandler.get_response`` (and its async twin) is wrapped, so runserver,
gunicorn, uvicorn and the test client are all covered.
"""

from __future__ import annotations

import inspect
import weakref
from types import ModuleType
from typing import Any

from perfdoctor.capture import context, identity, nested, routes, server_timing, streams
from perfdoctor.capture.response import (
    KEPT_HEADERS,
    BodyMeter,
    handler_location,
    measure,
    query_names_of,
)

_MARK = "__perfdoctor_original__"


def _start(request: Any) -> tuple[context.ActiveTrace, Any] | None:
    if not context.state.enabled or context._current.get() is not None:
        return None
    method = getattr(request, "method", "GET") or "GET"
    # Named as it ends (see _name), from what the router made of it.
    # The anchor is get_response's frame, which runs for the whole request.
    return context.start(routes.name(method, routes.UNMATCHED), "http", anchor_depth=2)


# Joined route string and view -> template: a route is rendered once per process.
_TEMPLATES: dict[tuple[str, str], str] = {}
_TEMPLATES_MAX = 4096


def _template(match: Any) -> str | None:
    """The route the request matched, as written in the urlconf: ``/api/posts/{slug}``."""
    route = getattr(match, "route", None)
    if not isinstance(route, str) or not route:
        return None
    key = (route, str(getattr(match, "_func_path", "")))
    template = _TEMPLATES.get(key)
    if template is None:
        template = _render(match, route)
        if len(_TEMPLATES) < _TEMPLATES_MAX:
            _TEMPLATES[key] = template
    return template


def _name(request: Any, match: Any, response: Any) -> str:
    """The route's template; for a 404 no route matched, ``<unmatched>``.

    A response given before the URL was resolved (a middleware's redirect, a CORS
    preflight, static files) has no route to name it: its path is, with ids,
    tokens and e-mail addresses templated.
    """
    template = _template(match)
    if template:
        return template
    if match is None and getattr(response, "status_code", 404) == 404:
        return routes.UNMATCHED
    return routes.from_raw_path(request.path_info)


def _render(match: Any, route: str) -> str:
    # On a match, the last entry of ``tried`` is the chain of patterns that matched,
    # outermost include() first: each piece is read as what it is (path or regex).
    tried = getattr(match, "tried", None)
    chain = tried[-1] if tried else None
    if not chain or getattr(chain[-1], "callback", None) is None:
        return routes.from_django_route(route)
    patterns = [p.pattern for p in chain]
    return routes.from_django_patterns(patterns, _positional_names(match.func, patterns))


def _positional_names(view: Any, patterns: list[Any]) -> list[str]:
    """The view's positional parameters after ``request``, which unnamed groups fill.

    Django passes unnamed groups only when the route has no named one.
    """
    for pattern in patterns:
        regex = getattr(pattern, "_regex", "")
        if "(?P<" in regex or "<" in str(getattr(pattern, "_route", "")):
            return []
    if not inspect.isfunction(view):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    try:
        parameters = inspect.signature(view).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.kind in kinds][1:]


def _end(started: tuple[context.ActiveTrace, Any], request: Any, response: Any) -> None:
    trace, token = started
    if server_timing.switch.on and response is not None:
        _add_server_timing(trace, response)
    try:
        match = getattr(request, "resolver_match", None)
        trace.name = routes.name(request.method or "GET", _name(request, match, response))
        page = _wagtail_page_type(match, response)
        if page is not None:
            trace.name = f"{trace.name} ({page})"
        if not trace.detail and response is not None and not getattr(response, "streaming", False):
            # Recorded nothing (``--sample-tail summary``): a name and a status are
            # all a summary keeps.
            trace.status = response.status_code
            context.finish(trace, token)
            return
        identity.set_user(trace, *identity.from_django_request(request))
        trace.attrs["framework"] = "django"
        trace.attrs["query_names"] = query_names_of(request.META.get("QUERY_STRING", ""))
        if match is not None:
            trace.attrs["handler"] = handler_location(match.func)
        if response is not None:
            trace.status = response.status_code
            headers = {h: response[h] for h in KEPT_HEADERS if response.has_header(h)}
            trace.attrs["response_headers"] = headers
            if getattr(response, "streaming", False):
                # A streamed body is not read here (that would consume it): the
                # trace goes on while the handler sends it.
                _follow_stream(trace, token, response, headers)
                return
            measure(response.content, headers.get("content-type"), trace.attrs)
    except Exception:
        pass
    context.finish(trace, token)


# Wagtail's view that serves every page from one catch-all route (wagtail.core
# before 2.16).
_WAGTAIL_SERVE = (("wagtail.views", "serve"), ("wagtail.core.views", "serve"))


def _wagtail_page_type(match: Any, response: Any) -> str | None:
    """The page type Wagtail served: its one route answers every page, so the page
    type is what tells a bakery's bread list from its blog (each its own template,
    queries and findings)."""
    func = getattr(match, "func", None)
    if (getattr(func, "__module__", None), getattr(func, "__name__", None)) not in _WAGTAIL_SERVE:
        return None
    data = getattr(response, "context_data", None)
    page = data.get("page") if isinstance(data, dict) else None
    return type(page).__name__ if page is not None else None


def _add_server_timing(trace: context.ActiveTrace, response: Any) -> None:
    # The handler sends the headers after get_response returns: this is the last moment.
    value = server_timing.value(trace)
    if value is not None:
        try:
            response[server_timing.HEADER] = server_timing.joined(
                response.get(server_timing.HEADER), value
            )
        except Exception:
            pass


def _follow_stream(
    trace: context.ActiveTrace, token: Any, response: Any, headers: dict[str, str]
) -> None:
    """Keep ``trace`` open until the streamed ``response`` is closed."""
    meter = BodyMeter()
    meter.headers(headers.get("content-type"), headers.get("content-length"))
    content = response.streaming_content
    if getattr(response, "is_async", False):
        wrapped: Any = streams.AsyncChunks(trace, content, meter)
    else:
        wrapped = streams.chunks(trace, content, meter)
    # The response's own close, reached through a weak reference: a closure
    # holding the response, stored on it, would keep it alive until a gc pass.
    own_close = response.__dict__.get("close")
    response_ref = weakref.ref(response)

    def end() -> None:
        meter.store(trace.attrs)
        context.finish(trace, None)

    def close() -> None:
        target = response_ref()
        try:
            if own_close is not None:
                streams.within(trace, own_close)
            elif target is not None:
                streams.within(trace, lambda: type(target).close(target))
        finally:
            end()

    response.streaming_content = wrapped
    response.close = close
    # A handler that drops the response unclosed (a test client whose test never
    # reads the body) still ends the request when the response is collected.
    weakref.finalize(response, end).atexit = False
    context.hand_off(trace, token, end)


def install(base: ModuleType) -> None:
    handler = base.BaseHandler
    sync_original = handler.__dict__["get_response"]
    if hasattr(sync_original, _MARK):
        return

    def get_response(self: Any, request: Any) -> Any:
        started = _start(request)
        if started is None:
            mark = nested.begin()
            try:
                return sync_original(self, request)
            finally:
                nested.end(mark, getattr(request, "method", None) or "GET")
        response = None
        try:
            response = sync_original(self, request)
            return response
        finally:
            _end(started, request, response)

    setattr(get_response, _MARK, sync_original)
    handler.get_response = get_response

    async_original = handler.__dict__.get("get_response_async")
    if async_original is not None:

        async def get_response_async(self: Any, request: Any) -> Any:
            started = _start(request)
            if started is None:
                mark = nested.begin()
                try:
                    return await async_original(self, request)
                finally:
                    nested.end(mark, getattr(request, "method", None) or "GET")
            started[0].attrs["async"] = True
            response = None
            try:
                response = await async_original(self, request)
                return response
            finally:
                _end(started, request, response)

        setattr(get_response_async, _MARK, async_original)
        handler.get_response_async = get_response_async


def install_sqlite_operations(operations: ModuleType) -> None:
    """Leave out the ``SELECT QUOTE(?)`` Django's SQLite backend runs to log each query.

    With DEBUG on, Django renders every query's parameters for ``connection.queries``
    by running one more query on the raw connection; it is not the application's.
    """
    cls = operations.DatabaseOperations
    original = cls.__dict__.get("_quote_params_for_last_executed_query")
    if original is None or hasattr(original, _MARK):
        return
    wrapped = context.muted(original)
    setattr(wrapped, _MARK, original)
    cls._quote_params_for_last_executed_query = wrapped
