"""PD302: a redis ``SET`` without an expiry."""

from __future__ import annotations

import ast

from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.rules._util import has_star_kwargs, keyword

_EXPIRY = ("ex", "px", "exat", "pxat", "keepttl")


@rule(
    "PD302",
    "redis-set-no-expiry",
    "A redis SET without EX/PX keeps the key until it is deleted.",
    nodes=(ast.Call,),
    triggers=("redis",),
)
def check(node: ast.Call, ctx: Context) -> None:
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr == "set"):
        return
    receiver = func.value
    if not (isinstance(receiver, ast.Name) and ctx.lookup(receiver.id) == "redis"):
        return
    if has_star_kwargs(node) or len(node.args) > 2:
        return  # the third positional argument is ex
    if any(keyword(node, name) is not None for name in _EXPIRY):
        return
    ctx.report(
        "PD302", node, f"{receiver.id}.set() without ex=/px= never expires: pass ex=<seconds>"
    )
