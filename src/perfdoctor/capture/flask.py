"""Flask: every app traced per request and named by its URL rule."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from perfdoctor.capture import context, routes, wsgi
from perfdoctor.capture.response import handler_location

_MARK = "__perfdoctor_original__"


def _name_from_rule(trace: context.ActiveTrace, environ: dict[str, Any]) -> None:
    # Flask leaves the matched request on the environ as "werkzeug.request" while
    # its request context is active (it sets the key to None when the context ends).
    request = environ.get("werkzeug.request")
    # A request joined into a test's or a job's trace (a test client inside
    # ``perfdoctor.trace``) leaves that trace its own name.
    if request is not None and trace.kind == "http":
        rule = getattr(getattr(request, "url_rule", None), "rule", None)
        # Flask matched the request against its rules before any view ran: no
        # rule means no route (a 404, a 405, a redirect to add a slash).
        template = routes.from_angle_template(rule) if isinstance(rule, str) else routes.UNMATCHED
        trace.name = routes.name(environ.get("REQUEST_METHOD", "GET"), template)
    trace.attrs["framework"] = "flask"
    if "handler" not in trace.attrs:
        view = _view_function(request)
        if view is not None:
            trace.attrs["handler"] = handler_location(view)
            if inspect.iscoroutinefunction(view):
                # An async view: Flask runs it on an event loop (asgiref).
                trace.attrs["async"] = True


def _view_function(request: Any) -> Any:
    endpoint = getattr(getattr(request, "url_rule", None), "endpoint", None)
    if endpoint is None:
        return None
    from flask import current_app

    try:
        return current_app.view_functions.get(endpoint)
    except RuntimeError:  # no app context any more
        return None


def install(flask_app: ModuleType) -> None:
    flask_cls = flask_app.Flask
    original = flask_cls.__dict__["wsgi_app"]
    if hasattr(original, _MARK):
        return

    def wsgi_app(
        self: Any, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        def call(e: dict[str, Any], s: Callable[..., Any]) -> Iterable[bytes]:
            # Flask calls start_response inside the request context, the last moment
            # the matched rule can be read: after wsgi_app returns it is gone.
            def naming_start_response(status: str, headers: Any, *exc: Any) -> Any:
                trace = context._current.get()
                if trace is not None:
                    try:
                        _name_from_rule(trace, e)
                    except Exception:  # never break the host app
                        pass
                return s(status, headers, *exc)

            return original(self, e, naming_start_response)  # type: ignore[no-any-return]

        return wsgi.traced_call(call, environ, start_response, _name_from_rule)

    setattr(wsgi_app, _MARK, original)
    flask_cls.wsgi_app = wsgi_app
