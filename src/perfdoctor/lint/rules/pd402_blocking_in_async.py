"""PD402: a blocking call inside ``async def`` stalls every request on the loop."""

from __future__ import annotations

import ast

from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.infer import query_of
from perfdoctor.lint.rules._util import HTTP_METHODS

_BLOCKING = {
    "time.sleep": "use await asyncio.sleep(...)",
    "urllib.request.urlopen": "use httpx.AsyncClient or aiohttp, or await asyncio.to_thread(...)",
}
_ORM_SYNC = {"get", "first", "last", "latest", "earliest", "count", "exists", "aggregate",
             "create", "get_or_create", "update_or_create", "update", "delete", "in_bulk",
             "bulk_create", "bulk_update"}  # fmt: skip
_ORM_FIX = "use the async API (await qs.aget(), async for, acount()) or sync_to_async"
_HTTP_FIX = "use httpx.AsyncClient (await client.get(...)) or await asyncio.to_thread(...)"


def _django_query(node: ast.expr, ctx: Context) -> bool:
    query = query_of(node, ctx)
    return query is not None and query.orm == "django" and query.model is not None


@rule(
    "PD402",
    "blocking-in-async",
    "A blocking call inside async def stops the event loop for every request.",
    nodes=(ast.Call, ast.For),
    triggers=("async def",),
    also=("time", "requests", "urlopen", "objects"),
)
def check(node: ast.Call | ast.For, ctx: Context) -> None:
    if not ctx.in_async():
        return
    if isinstance(node, ast.For):
        if _django_query(node.iter, ctx):
            ctx.report(
                "PD402", node, f"a for loop over a queryset queries synchronously: {_ORM_FIX}"
            )
        return
    func = node.func
    name = ctx.qualname(func)
    if name in _BLOCKING:
        ctx.report("PD402", node, f"{name}() blocks the event loop: {_BLOCKING[name]}")
        return
    if name is not None:
        module, _, method = name.rpartition(".")
        if module in ("requests", "requests.api") and method in HTTP_METHODS:
            ctx.report("PD402", node, f"{name}() blocks the event loop: {_HTTP_FIX}")
        return
    if isinstance(func, ast.Name) and func.id == "list" and len(node.args) == 1:
        if _django_query(node.args[0], ctx):
            ctx.report("PD402", node, f"list(queryset) queries synchronously: {_ORM_FIX}")
        return
    if not isinstance(func, ast.Attribute):
        return
    receiver = func.value
    if (
        func.attr in HTTP_METHODS
        and isinstance(receiver, ast.Name)
        and ctx.lookup(receiver.id) == "requests.Session"
    ):
        ctx.report("PD402", node, f"{receiver.id}.{func.attr}() blocks the event loop: {_HTTP_FIX}")
        return
    if func.attr in _ORM_SYNC and _django_query(receiver, ctx):
        ctx.report("PD402", node, f".{func.attr}() on a queryset queries synchronously: {_ORM_FIX}")
