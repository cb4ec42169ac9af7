"""PD104: ``sum``/``max``/``min`` over a queryset's rows in Python."""

from __future__ import annotations

import ast

from perfdoctor.lint.base import QUERY_HINTS, rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.infer import query_of

_FUNCS = {"sum": "Sum", "max": "Max", "min": "Min"}


@rule(
    "PD104",
    "python-side-aggregate",
    "sum()/max()/min() over a query's rows fetches them all; the database aggregates.",
    nodes=(ast.Call,),
    triggers=("sum(", "max(", "min("),
    also=QUERY_HINTS,
)
def check(node: ast.Call, ctx: Context) -> None:
    func = node.func
    if not (isinstance(func, ast.Name) and func.id in _FUNCS and len(node.args) == 1):
        return
    if func.id in ctx.imports or func.id in ctx.scope.names or func.id in ctx.module.names:
        return
    arg = node.args[0]
    if isinstance(arg, (ast.GeneratorExp, ast.ListComp)) and len(arg.generators) == 1:
        source = arg.generators[0].iter
    else:
        source = arg
    query = query_of(source, ctx)
    if query is None or query.select:
        return
    if source is arg and not query.values:
        return  # max(queryset) compares model objects: not an aggregate
    name = _FUNCS[func.id]
    fix = (
        f'.aggregate(value={name}("field"))' if query.orm == "django"
        else f"select(func.{name.lower()}(Model.field)) with session.scalar()"
    )  # fmt: skip
    ctx.report("PD104", node, f"{func.id}() over the rows fetches all of them: use {fix}")
