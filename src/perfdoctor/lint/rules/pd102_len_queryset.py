"""PD102: ``len(queryset)`` loads every row to count them."""

from __future__ import annotations

import ast

from perfdoctor.lint.base import QUERY_HINTS, rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.infer import query_of
from perfdoctor.lint.rules._util import name_loads


@rule(
    "PD102",
    "len-queryset",
    "len() on a queryset fetches every row only to count them.",
    nodes=(ast.Call,),
    triggers=("len(",),
    also=QUERY_HINTS,
)
def check(node: ast.Call, ctx: Context) -> None:
    if not (isinstance(node.func, ast.Name) and node.func.id == "len" and len(node.args) == 1):
        return
    arg = node.args[0]
    query = query_of(arg, ctx)
    if query is None or query.orm != "django" or query.model is None:
        return
    func = ctx.function()
    if isinstance(arg, ast.Name) and func is not None and name_loads(func.body, arg.id) > 1:
        return  # the rows are used too: len() then reads the queryset's cache, no waste
    ctx.report("PD102", node, "len() fetches every row to count them: use .count() (or .exists())")
