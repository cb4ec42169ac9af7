"""PD301: a Django cache write that never expires."""

from __future__ import annotations

import ast

from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.rules._util import has_star_kwargs, is_none, keyword

# Position of the timeout argument in each write method.
_TIMEOUT_AT = {"set": 2, "add": 2, "get_or_set": 2, "set_many": 1}


def is_django_cache(node: ast.expr, ctx: Context) -> bool:
    if ctx.qualname(node) == "django.core.cache.cache":
        return True
    return (
        isinstance(node, ast.Subscript) and ctx.qualname(node.value) == "django.core.cache.caches"
    )


@rule(
    "PD301",
    "cache-no-timeout",
    "A cache entry written without expiry is never refreshed and never evicted by age.",
    nodes=(ast.Call,),
    triggers=("cache",),
    also=("django.core.cache",),
)
def check(node: ast.Call, ctx: Context) -> None:
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr in _TIMEOUT_AT):
        return
    if not is_django_cache(func.value, ctx) or has_star_kwargs(node):
        return
    at = _TIMEOUT_AT[func.attr]
    given = keyword(node, "timeout")
    value = given.value if given else (node.args[at] if len(node.args) > at else None)
    if value is not None:
        if is_none(value):
            ctx.report(
                "PD301",
                node,
                f"cache.{func.attr}(timeout=None) never expires: pass a timeout in seconds",
            )
        return
    if ctx.project.cache_timeout_none(ctx.path):
        ctx.report(
            "PD301",
            node,
            f"cache.{func.attr}() without a timeout never expires (CACHES TIMEOUT is None): "
            "pass timeout=<seconds>",
        )
