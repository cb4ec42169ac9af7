"""Django: every request traced and named by its URL pattern, with no settings change.

``BaseHandler.get_response`` (and its async twin) is wrapped, so runserver,
gunicorn, uvicorn and the test client are all covered.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from perfdoctor.capture import context, identity, nested, routes
from perfdoctor.capture.response import KEPT_HEADERS, handler_location, measure, query_names_of

_MARK = "__perfdoctor_original__"


def _start(request: Any) -> tuple[context.ActiveTrace, Any] | None:
    if not context.state.enabled or context._current.get() is not None:
        return None
    method = getattr(request, "method", "GET") or "GET"
    return context.start(routes.name(method, routes.from_raw_path(request.path_info)), "http")


def _end(started: tuple[context.ActiveTrace, Any], request: Any, response: Any) -> None:
    trace, token = started
    try:
        match = getattr(request, "resolver_match", None)
        route = getattr(match, "route", None)
        if isinstance(route, str) and route:
            trace.name = routes.name(request.method or "GET", routes.from_angle_template(route))
        identity.set_user(trace, *identity.from_django_request(request))
        trace.attrs["framework"] = "django"
        trace.attrs["query_names"] = query_names_of(request.META.get("QUERY_STRING", ""))
        if match is not None:
            trace.attrs["handler"] = handler_location(match.func)
        if response is not None:
            trace.status = response.status_code
            headers = {h: response[h] for h in KEPT_HEADERS if response.has_header(h)}
            trace.attrs["response_headers"] = headers
            if not getattr(response, "streaming", False):
                # A streamed body is not read here: that would consume it.
                measure(response.content, headers.get("content-type"), trace.attrs)
    except Exception:
        pass
    context.finish(trace, token)


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
