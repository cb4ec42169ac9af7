"""Flask: every app traced per request and named by its URL rule."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from perfdoctor.capture import context, routes, wsgi

_MARK = "__perfdoctor_original__"


def _name_from_rule(trace: context.ActiveTrace, environ: dict[str, Any]) -> None:
    # Flask leaves the matched request on the environ as "werkzeug.request".
    request = environ.get("werkzeug.request")
    rule = getattr(getattr(request, "url_rule", None), "rule", None)
    if isinstance(rule, str):
        trace.name = routes.name(
            environ.get("REQUEST_METHOD", "GET"), routes.from_angle_template(rule)
        )


def install(flask_app: ModuleType) -> None:
    flask_cls = flask_app.Flask
    original = flask_cls.__dict__["wsgi_app"]
    if hasattr(original, _MARK):
        return

    def wsgi_app(
        self: Any, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        return wsgi.traced_call(
            lambda e, s: original(self, e, s), environ, start_response, _name_from_rule
        )

    setattr(wsgi_app, _MARK, original)
    flask_cls.wsgi_app = wsgi_app
