"""Starlette and FastAPI: the ASGI middleware put outermost in every app's stack."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from perfdoctor.capture.asgi import TraceMiddleware

_MARK = "__perfdoctor_original__"


def install(applications: ModuleType) -> None:
    cls = applications.Starlette
    original = cls.__dict__["build_middleware_stack"]
    if hasattr(original, _MARK):
        return

    def build_middleware_stack(self: Any) -> Any:
        return TraceMiddleware(original(self))

    setattr(build_middleware_stack, _MARK, original)
    cls.build_middleware_stack = build_middleware_stack
