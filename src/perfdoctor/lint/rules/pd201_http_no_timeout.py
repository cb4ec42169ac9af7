"""PD201: an outbound HTTP call that can wait forever (no timeout).

requests and httpx calls are judged where they are made. The standard library's
``urlopen``, an opener's ``open`` and ``http.client`` connections wait as long as the
socket default, which is no timeout unless ``socket.setdefaulttimeout()`` sets one:
they are judged once the whole module has been read, so a module-level
``setdefaulttimeout`` below them still counts.
"""

from __future__ import annotations

import ast

from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.rules._util import HTTP_METHODS, has_star_kwargs, is_none, keyword

_REQUESTS_FIX = "pass timeout=(3.05, 27) (connect, read seconds)"
_HTTPX_FIX = "timeout=None turns off httpx's 5 s default: pass a finite timeout"
_STDLIB_WHY = (
    "and the socket default is none (socket.setdefaulttimeout() is not called in this "
    "module), so it waits for ever on a stalled server"
)
# Positional place of ``timeout`` (urlopen(url, data, timeout), opener.open(url, data,
# timeout), HTTPConnection(host, port, timeout)); older HTTPSConnection signatures put
# it later, so any third positional argument leaves the call unjudged.
_STDLIB_TIMEOUT_POS = 2
_STDLIB_CALLS = {
    "urllib.request.urlopen": "urlopen",
    "http.client.HTTPConnection": "HTTPConnection",
    "http.client.HTTPSConnection": "HTTPSConnection",
}
_PENDING = "pd201.stdlib"
_DEFAULT_SET = "pd201.setdefaulttimeout"


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


def _stdlib_call(node: ast.Call, ctx: Context) -> str | None:
    func = node.func
    name = ctx.qualname(func)
    if name in _STDLIB_CALLS:
        return _STDLIB_CALLS[name]
    if isinstance(func, ast.Attribute) and func.attr == "open":
        receiver = func.value
        if isinstance(receiver, ast.Name) and ctx.lookup(receiver.id) == "urllib.opener":
            return f"{receiver.id}.open"
        if isinstance(receiver, ast.Call) and ctx.value_of(receiver) == "urllib.opener":
            return "build_opener().open"
    return None


def _stdlib_fix(call: str) -> str:
    if call.endswith("Connection"):
        return f"pass timeout=10 to {call}() (each request on it then gives up in time)"
    return f"pass timeout=10 to {call}()"


def _sets_default_timeout(node: ast.Call, ctx: Context) -> bool:
    if ctx.scope is not ctx.module or ctx.classes:
        return False  # only a module-level call is known to run before the request
    if ctx.qualname(node.func) != "socket.setdefaulttimeout" or not node.args:
        return False
    return not is_none(node.args[0])


@rule(
    "PD201",
    "http-no-timeout",
    "An outbound HTTP call without a timeout waits forever on a stalled server.",
    nodes=(ast.Call, ast.Module),
    triggers=("requests", "httpx", "urlopen", "HTTPConnection", "HTTPSConnection", "opener"),
    when="exit",
)
def check(node: ast.Call | ast.Module, ctx: Context) -> None:
    if isinstance(node, ast.Module):
        if not ctx.state.get(_DEFAULT_SET):
            for call_node, call, function in ctx.state.get(_PENDING, ()):
                message = f"{call}() has no timeout {_STDLIB_WHY}: {_stdlib_fix(call)}"
                ctx.report("PD201", call_node, message, function)
        return
    if has_star_kwargs(node):
        return  # the timeout may come in **kwargs
    timeout = keyword(node, "timeout")
    call = _requests_call(node, ctx)
    if call is not None:
        if timeout is None or is_none(timeout.value):
            ctx.report("PD201", node, f"{call}() has no timeout: {_REQUESTS_FIX}")
        return
    call = _httpx_call(node, ctx)
    if call is not None:
        if timeout is not None and is_none(timeout.value):
            ctx.report("PD201", node, f"{call}(timeout=None): {_HTTPX_FIX}")
        return
    call = _stdlib_call(node, ctx)
    if call is not None:
        if (timeout is None or is_none(timeout.value)) and len(node.args) <= _STDLIB_TIMEOUT_POS:
            pending = (node, call, ctx.qualified_function())
            ctx.state.setdefault(_PENDING, []).append(pending)
    elif _sets_default_timeout(node, ctx):
        ctx.state[_DEFAULT_SET] = True
