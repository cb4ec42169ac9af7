"""Starlette and FastAPI: every app's ``__call__`` runs inside the ASGI trace middleware.

``Starlette.__call__`` is wrapped rather than ``build_middleware_stack``: FastAPI
overrides the latter with its own copy, but every subclass still reaches
``Starlette.__call__`` through ``super()``.  A mounted sub-application joins the
trace its parent started.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from perfdoctor.capture.asgi import TraceMiddleware

_MARK = "__perfdoctor_original__"


def install(applications: ModuleType) -> None:
    cls = applications.Starlette
    original = cls.__dict__["__call__"]
    if hasattr(original, _MARK):
        return

    async def __call__(self: Any, scope: Any, receive: Any, send: Any) -> None:
        framework = "fastapi" if type(self).__module__.startswith("fastapi") else "starlette"
        await TraceMiddleware(lambda s, r, w: original(self, s, r, w), framework)(
            scope, receive, send
        )

    setattr(__call__, _MARK, original)
    cls.__call__ = __call__
