"""PD105: a view or serializer returns a whole table (unsliced ``.all()``)."""

from __future__ import annotations

import ast

from perfdoctor.lint.base import QUERY_HINTS, rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.infer import Query, query_of
from perfdoctor.lint.rules._util import walk_local


def _unbounded(query: Query | None) -> bool:
    return (
        query is not None
        and query.all_called
        and not query.filtered
        and not query.sliced
        and not query.select
        and query.model is not None
    )


def _paginated(func: ast.AST | None, name: str) -> bool:
    if func is None:
        return False
    body: list[ast.stmt] = getattr(func, "body", [])
    for node in walk_local(body):
        if (
            isinstance(node, ast.Call)
            and "paginat" in ast.unparse(node.func).lower()
            and any(isinstance(a, ast.Name) and a.id == name for a in node.args)
        ):
            return True
    return False


def _find(node: ast.AST, ctx: Context) -> ast.AST | None:
    if isinstance(node, (ast.Name, ast.Call, ast.Subscript)):
        query = query_of(node, ctx)
        if query is not None:
            if not _unbounded(query):
                return None
            if isinstance(node, ast.Name) and _paginated(ctx.function(), node.id):
                return None
            return node
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and query_of(func.value, ctx) is not None:
            return None  # .count(), .first(), .aggregate(): a bounded answer
        if "paginat" in ast.unparse(func).lower():
            return None
    if isinstance(node, ast.Lambda):
        return None
    for child in ast.iter_child_nodes(node):
        found = _find(child, ctx)
        if found is not None:
            return found
    return None


@rule(
    "PD105",
    "unbounded-all-in-view",
    "A view or serializer returns every row of a table: it grows with the data.",
    nodes=(ast.Return,),
    triggers=(".all()",),
    also=QUERY_HINTS,
)
def check(node: ast.Return, ctx: Context) -> None:
    if node.value is None or not ctx.is_view():
        return
    found = _find(node.value, ctx)
    if found is not None:
        ctx.report(
            "PD105",
            found,
            "returns every row of the table (unsliced .all()): paginate it "
            "(Paginator, DRF pagination, .limit()) or slice it ([:100])",
        )
