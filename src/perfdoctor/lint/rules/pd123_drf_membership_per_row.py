"""PD123: a DRF serializer asks a model method, once per row a list view returns,
whether a relation holds the row (``request.user.profile.has_favorited(obj)``):
one query per row that no eager load removes."""

from __future__ import annotations

import ast

from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.rules.pd122_drf_serializer_relations import findings


@rule(
    "PD123",
    "serializer-membership-per-row",
    "A DRF serializer calls a model method that queries a relation once per listed row.",
    nodes=(ast.Module,),
    triggers=("Serializer",),
)
def check(node: ast.Module, ctx: Context) -> None:
    for code, call, message, relation in findings(ctx.project).get(ctx.path, ()):
        if code == "PD123":
            ctx.report(code, call, message, relation=relation)
