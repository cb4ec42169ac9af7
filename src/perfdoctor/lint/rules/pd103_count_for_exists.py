"""PD103: ``qs.count() > 0`` where ``qs.exists()`` stops at the first row."""

from __future__ import annotations

import ast

from perfdoctor.lint.base import QUERY_HINTS, rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.infer import query_of

# (operator, constant) meaning "there is at least one row" or "there are none".
_SOME = {(ast.Gt, 0), (ast.NotEq, 0), (ast.GtE, 1)}
_NONE = {(ast.Eq, 0), (ast.Lt, 1), (ast.LtE, 0)}
_MIRROR: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Gt: ast.Lt, ast.Lt: ast.Gt, ast.GtE: ast.LtE, ast.LtE: ast.GtE,
    ast.Eq: ast.Eq, ast.NotEq: ast.NotEq,
}  # fmt: skip


def _count_call(node: ast.expr, ctx: Context) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "count"
        and not node.args
        and not node.keywords
        and query_of(node.func.value, ctx) is not None
    )


@rule(
    "PD103",
    "count-for-exists",
    "count() compared with 0 counts every matching row; exists() stops at the first.",
    nodes=(ast.Compare,),
    triggers=(".count()",),
    also=QUERY_HINTS,
)
def check(node: ast.Compare, ctx: Context) -> None:
    if len(node.ops) != 1:
        return
    left, op, right = node.left, type(node.ops[0]), node.comparators[0]
    if _count_call(right, ctx) and not _count_call(left, ctx):
        left, right, op = right, left, _MIRROR.get(op, op)
    if not (_count_call(left, ctx) and isinstance(right, ast.Constant)):
        return
    if not isinstance(right.value, int) or isinstance(right.value, bool):
        return
    if (op, right.value) in _SOME:
        ctx.report("PD103", node, "count() compared with 0 counts every row: use .exists()")
    elif (op, right.value) in _NONE:
        ctx.report("PD103", node, "count() compared with 0 counts every row: use not .exists()")
