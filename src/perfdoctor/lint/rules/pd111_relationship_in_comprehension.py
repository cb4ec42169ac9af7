"""PD111: a SQLAlchemy relationship read per row of a comprehension over a query.

``[p.author.name for p in session.scalars(select(Post))]`` loads each author with a
query of its own; the for-loop form of the same thing is PD101.
"""

from __future__ import annotations

import ast

from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.rules._sa_rows import (
    COMPREHENSIONS,
    SA_HINTS,
    eager_fix,
    lazy,
    row_attributes,
    rows,
)


@rule(
    "PD111",
    "relationship-in-comprehension",
    "A SQLAlchemy relationship is loaded once per row of a comprehension over a query.",
    nodes=COMPREHENSIONS,
    triggers=SA_HINTS,
)
def check(node: ast.expr, ctx: Context) -> None:
    found = rows(node, ctx)
    if found is None or found.model is None:
        return
    seen: set[str] = set()
    for sub in row_attributes(found):
        rel = sub.attr
        if rel in seen or not lazy(found.model, found.query, rel):
            continue
        seen.add(rel)
        ctx.report(
            "PD111",
            sub,
            f"{found.var}.{rel} runs one query per row: "
            + eager_fix(found.model, rel, found.query).replace("loop", "comprehension"),
        )
