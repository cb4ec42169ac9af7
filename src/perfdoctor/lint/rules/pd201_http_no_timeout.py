"""PD201: an outbound HTTP call that can wait forever (no timeout)."""

from __future__ import annotations

import ast

from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.rules._util import HTTP_METHODS, has_star_kwargs, is_none, keyword

_REQUESTS_FIX = "pass timeout=(3.05, 27) (connect, read seconds)"
_HTTPX_FIX = "timeout=None turns off httpx's 5 s default: pass a finite timeout"


def _requests_call(node: ast.Call, ctx: Context) -> str | None:
    func = node.func
    name = ctx.qualname(func)
    if name is not None:
        module, _, method = name.rpartition(".")
        if module in ("requests", "requests.api") and method in HTTP_METHODS:
            return name
    if isinstance(func, ast.Attribute) and func.attr in HTTP_METHODS:
        receiver = func.value
        if isinstance(receiver, ast.Name) and ctx.lookup(receiver.id) == "requests.Session":
            return f"{receiver.id}.{func.attr}"
        if isinstance(receiver, ast.Call) and ctx.value_of(receiver) == "requests.Session":
            return f"Session().{func.attr}"
    return None


def _httpx_call(node: ast.Call, ctx: Context) -> str | None:
    func = node.func
    name = ctx.qualname(func)
    if name is not None:
        module, _, method = name.rpartition(".")
        if module == "httpx" and (
            method in HTTP_METHODS or method in ("stream", "Client", "AsyncClient")
        ):
            return name
    if isinstance(func, ast.Attribute) and (func.attr in HTTP_METHODS or func.attr == "stream"):
        receiver = func.value
        if isinstance(receiver, ast.Name) and ctx.lookup(receiver.id) in (
            "httpx.Client",
            "httpx.AsyncClient",
        ):
            return f"{receiver.id}.{func.attr}"
    return None


@rule(
    "PD201",
    "http-no-timeout",
    "An outbound HTTP call without a timeout waits forever on a stalled server.",
    nodes=(ast.Call,),
    triggers=("requests", "httpx"),
)
def check(node: ast.Call, ctx: Context) -> None:
    if has_star_kwargs(node):
        return  # the timeout may come in **kwargs
    timeout = keyword(node, "timeout")
    call = _requests_call(node, ctx)
    if call is not None:
        if timeout is None or is_none(timeout.value):
            ctx.report("PD201", node, f"{call}() has no timeout: {_REQUESTS_FIX}")
        return
    call = _httpx_call(node, ctx)
    if call is not None and timeout is not None and is_none(timeout.value):
        ctx.report("PD201", node, f"{call}(timeout=None): {_HTTPX_FIX}")
