"""PD114: ``len(q.all())`` / ``len(session.scalars(select(M)).all())`` loads every
row (and builds every object) only to count them; the database counts in one row."""

from __future__ import annotations

import ast

from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.infer import query_of
from perfdoctor.lint.rules._sa_rows import SA_HINTS
from perfdoctor.lint.rules._util import name_loads


@rule(
    "PD114",
    "len-of-all-rows",
    "len() of a SQLAlchemy query's rows fetches every row only to count them.",
    nodes=(ast.Call,),
    triggers=("len(",),
    also=SA_HINTS,
)
def check(node: ast.Call, ctx: Context) -> None:
    if not (isinstance(node.func, ast.Name) and node.func.id == "len" and len(node.args) == 1):
        return
    arg = node.args[0]
    query = query_of(arg, ctx)
    if query is None or query.orm != "sqlalchemy" or query.select or query.paged:
        return
    if not query.all_called:
        return  # len() of a Query object or a ScalarResult raises: not this mistake
    func = ctx.function()
    if isinstance(arg, ast.Name) and func is not None and name_loads(func.body, arg.id) > 1:
        return  # the rows are used too: counting the list costs nothing more
    if query.legacy:
        fix = "use .count() on the query (one SELECT count(*))"
    else:
        model = query.model or "Model"
        fix = (
            f"count in the database: session.scalar(select(func.count()).select_from({model})"
            "...) with the same where(), or select(func.count()).select_from(stmt.subquery())"
        )
    ctx.report("PD114", node, f"len() fetches every row to count them: {fix}")
