"""PD106: a loop loads a large text column it never reads (``.only``/``.defer``)."""

from __future__ import annotations

import ast

from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.infer import query_of
from perfdoctor.lint.rules._util import name_loads, walk_local


@rule(
    "PD106",
    "unused-text-column",
    "A loop over a queryset loads a large text field that it never reads.",
    nodes=(ast.For,),
    triggers=(".objects",),
)
def check(node: ast.For, ctx: Context) -> None:
    if not isinstance(node.target, ast.Name):
        return
    query = query_of(node.iter, ctx)
    if query is None or query.orm != "django" or query.narrowed or query.values:
        return
    model = ctx.model(query.model)
    if model is None or not model.text_fields:
        return
    if isinstance(node.iter, ast.Name):
        func = ctx.function()
        if func is None or name_loads(func.body, node.iter.id) > 1:
            return  # the queryset is used elsewhere too: the text may be read there
    var = node.target.id
    used: set[str] = set()
    owned: set[int] = set()
    names: list[ast.Name] = []
    for sub in walk_local(node.body):
        if (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.value, ast.Name)
            and sub.value.id == var
        ):
            if not isinstance(sub.ctx, ast.Load):
                return
            used.add(sub.attr)
            owned.add(id(sub.value))
        elif isinstance(sub, ast.Name) and sub.id == var:
            names.append(sub)
    if not used or any(id(n) not in owned for n in names):
        return  # the object itself escapes (passed, returned, serialised): anything may be read
    # Reading a relation is PD101's business (and .only() must then name it too).
    known = model.fields | {"pk", "id"} | {f"{r}_id" for r in model.relations}
    if not used <= known or used & model.text_fields or used & set(model.relations):
        return
    unused = sorted(model.text_fields)
    ctx.report(
        "PD106",
        node,
        f"this loop reads {', '.join(sorted(used))} but loads the text field(s) "
        f"{', '.join(unused)} of every row: add .only({', '.join(repr(u) for u in sorted(used))}) "
        f"or .defer({', '.join(repr(u) for u in unused)})",
    )
