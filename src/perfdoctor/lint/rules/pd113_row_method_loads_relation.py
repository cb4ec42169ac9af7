"""PD113: a method of a mapped class called per row loads a relationship each time.

``[u.to_dict() for u in db.paginate(select(User)).items]`` where ``to_dict`` reads
``self.posts`` or counts ``self.followers.select()``: the N+1 is in the method, the
loop that multiplies it is here. When the rows' class is not known (a statement
passed in from elsewhere), the one mapped class that defines the method is meant.
"""

from __future__ import annotations

import ast

from perfdoctor.lint import sa_facts
from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.project import Model
from perfdoctor.lint.rules._sa_rows import (
    COMPREHENSIONS,
    LOOPS,
    SA_HINTS,
    dynamic_fix,
    eager_fix,
    per_row,
    rows,
)


@rule(
    "PD113",
    "row-method-loads-relationship",
    "A model method called once per row of a query loads a relationship each time.",
    nodes=(*LOOPS, *COMPREHENSIONS),
    triggers=SA_HINTS,
)
def check(node: ast.AST, ctx: Context) -> None:
    found = rows(node, ctx)
    if found is None:
        return
    seen: set[str] = set()
    for sub in per_row(found):
        if not (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and isinstance(sub.func.value, ast.Name)
            and sub.func.value.id == found.var
        ):
            continue
        name = sub.func.attr
        model = found.model or _only_definer(ctx, name)
        if model is None or name in seen:
            continue
        if found.model is None and _handled(ctx, model.name):
            continue
        loads = [
            rel
            for rel in sa_facts.method_loads(
                ctx.project, model, name, sa_facts.passed_params(model, name, sub)
            )
            if rel in model.dynamic or rel not in found.query.eager
        ]
        if not loads:
            continue
        seen.add(name)
        fixes = []
        for rel in loads:
            if rel in model.dynamic:
                target = ctx.project.model(model.targets.get(rel))
                counted = any(rel in f.counted for f in model.methods.values())
                fixes.append(dynamic_fix(model, rel, target, counted))
            else:
                fixes.append(eager_fix(model, rel, found.query))
        names = ", ".join(f"{model.name}.{rel}" for rel in loads)
        ctx.report(
            "PD113",
            sub,
            f"{found.var}.{name}() loads {names} once per row: " + "; ".join(fixes),
        )


def _only_definer(ctx: Context, method: str) -> Model | None:
    found = [
        m for m in ctx.project.models.values() if m.orm == "sqlalchemy" and method in m.methods
    ]
    return found[0] if len(found) == 1 else None


def _handled(ctx: Context, model: str) -> bool:
    """The function tells the class's rows apart (``isinstance(items[0], User)``): a
    loop there over rows of a class not known here is the other classes' case."""
    func = ctx.function()
    if func is None:
        return False
    for node in ast.walk(func):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "isinstance"
            and len(node.args) == 2
            and model in ast.unparse(node.args[1])
        ):
            return True
    return False
