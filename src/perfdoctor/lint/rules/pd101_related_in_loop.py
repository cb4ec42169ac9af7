"""PD101: a related object read per row of a loop over a queryset (N+1 queries)."""

from __future__ import annotations

import ast

from perfdoctor.lint.base import QUERY_HINTS, rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.infer import ALL, query_of
from perfdoctor.lint.rules._util import walk_local
from perfdoctor.orm.sa_loading import eager_option


def _fix(orm: str, model: str, rel: str, many: bool) -> str:
    if orm == "django":
        method = "prefetch_related" if many else "select_related"
        return f'add .{method}("{rel}") to the queryset this loop iterates'
    return f"add .options({eager_option(model, rel, many)}) to the query this loop iterates"


@rule(
    "PD101",
    "related-access-in-loop",
    "A related object is loaded once per row of a loop over a query (N+1 queries).",
    nodes=(ast.For, ast.AsyncFor),
    triggers=QUERY_HINTS,
)
def check(node: ast.For | ast.AsyncFor, ctx: Context) -> None:
    if not isinstance(node.target, ast.Name):
        return
    query = query_of(node.iter, ctx)
    if query is None or query.values or query.select or ALL in query.eager:
        return
    model = ctx.model(query.model)
    if model is None or model.orm != query.orm:
        return
    var = node.target.id
    seen: set[str] = set()
    for sub in walk_local(node.body):
        if not (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.value, ast.Name)
            and sub.value.id == var
            and isinstance(sub.ctx, ast.Load)
        ):
            continue
        rel = sub.attr
        kind = model.relations.get(rel)
        if kind is None or rel in query.eager or rel in model.eager or rel in seen:
            continue
        if rel in model.dynamic:
            continue  # a query object until used: PD112 reports the use
        if kind == "many" and query.orm == "django":
            continue  # reported where .all() is called on it, below
        seen.add(rel)
        ctx.report(
            "PD101",
            sub,
            f"{var}.{rel} runs one query per row: "
            + _fix(query.orm, model.name, rel, kind == "many"),
        )
    for sub in walk_local(node.body):
        # Django many-valued relations query when read: row.tags.all(), row.comment_set.all().
        if not (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr == "all"
            and isinstance(sub.func.value, ast.Attribute)
            and isinstance(sub.func.value.value, ast.Name)
            and sub.func.value.value.id == var
            and query.orm == "django"
        ):
            continue
        rel = sub.func.value.attr
        many = model.relations.get(rel) == "many" or rel.endswith("_set")
        if many and rel not in query.eager and rel not in seen:
            seen.add(rel)
            ctx.report(
                "PD101",
                sub,
                f"{var}.{rel}.all() runs one query per row: "
                + _fix("django", model.name, rel, True),
            )
