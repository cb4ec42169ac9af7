"""PD112: a dynamic or write-only relationship queried per row of a loop over a query.

``lazy="dynamic"`` / ``DynamicMapped`` / ``WriteOnlyMapped`` relations are queries,
not collections: ``u.posts.count()``, ``session.scalars(u.followers.select())`` run
one query each time, and no loader option can load them with the rows.
"""

from __future__ import annotations

import ast

from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.rules._sa_rows import (
    COMPREHENSIONS,
    LOOPS,
    SA_HINTS,
    counts,
    dynamic_fix,
    per_row,
    rows,
)

_WRITES = {"append", "add", "add_all", "remove", "extend", "insert", "update", "delete"}


@rule(
    "PD112",
    "dynamic-relationship-per-row",
    "A dynamic or write-only SQLAlchemy relationship is queried once per row of a loop.",
    nodes=(*LOOPS, *COMPREHENSIONS),
    triggers=SA_HINTS,
)
def check(node: ast.AST, ctx: Context) -> None:
    found = rows(node, ctx)
    if found is None or found.model is None or not found.model.dynamic:
        return
    model = found.model
    seen: set[str] = set()
    # The outermost use first: select(func.count()).select_from(u.posts.select()) is a count.
    for sub in per_row(found):
        if not isinstance(sub, ast.Call):
            continue
        rel = _dynamic_use(sub, found.var, model.dynamic)
        if rel is None or rel in seen:
            continue
        seen.add(rel)
        target = ctx.project.model(model.targets.get(rel))
        ctx.report(
            "PD112",
            sub,
            f"{found.var}.{rel} is queried once per row: "
            + dynamic_fix(model, rel, target, counts(sub)),
        )


def _dynamic_use(call: ast.Call, var: str, dynamic: dict[str, str]) -> str | None:
    """The relation a call queries: ``var.rel.method(...)``, or any call holding one."""
    for sub in ast.walk(call):
        if not (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute)):
            continue
        owner = sub.func.value
        if (
            isinstance(owner, ast.Attribute)
            and isinstance(owner.value, ast.Name)
            and owner.value.id == var
            and owner.attr in dynamic
            and sub.func.attr not in _WRITES
        ):
            return owner.attr
    return None
