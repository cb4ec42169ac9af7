"""PD121: a Django reverse-FK / many-to-many manager queried once per row of a queryset.

``article.comments.count()``, ``.exists()``, ``.filter(...)`` in a loop, and any
manager call (``.all()`` too) in a comprehension over a queryset: one query per row.
Plain ``for`` loops reading ``row.rel.all()`` are PD101's.
"""

from __future__ import annotations

import ast

from perfdoctor.lint.base import rule
from perfdoctor.lint.context import Context
from perfdoctor.lint.infer import ALL, Query, query_of
from perfdoctor.lint.project import Model
from perfdoctor.lint.rules._util import walk_local
from perfdoctor.orm.fix_django import annotation_name

# Answered from prefetched rows when the relation is prefetched (Django reads the cache).
_CACHED = {"all", "count", "exists"}
# Always a new query, prefetched or not.
_QUERYING = {
    "filter", "exclude", "order_by", "get", "first", "last", "latest", "earliest",
    "values", "values_list", "aggregate", "annotate", "distinct", "select_related",
}  # fmt: skip
_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def fix(model: Model, var: str, rel: str, method: str) -> str:
    if method == "count":
        taken = model.fields | set(model.relations)
        name = annotation_name(f"{rel}_count", taken)
        return (
            f'add .annotate({name}=Count("{model.query_name(rel)}")) to the queryset and '
            f"read {var}.{name}"
            f' (or .prefetch_related("{rel}"): .count() then reads the prefetched rows)'
        )
    if method in _CACHED:
        return f'add .prefetch_related("{rel}") to the queryset the rows come from'
    return (
        f'{method}() queries even when "{rel}" is prefetched: prefetch the rows you need '
        f'once with .prefetch_related(Prefetch("{rel}", queryset=..., to_attr="...")) '
        "and read the list"
    )


def _manager_calls(
    nodes: list[ast.expr] | list[ast.stmt], var: str
) -> list[tuple[ast.Call, str, str]]:
    found = []
    for sub in walk_local(nodes):
        if not (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute)):
            continue
        manager = sub.func.value
        if (
            isinstance(manager, ast.Attribute)
            and isinstance(manager.value, ast.Name)
            and manager.value.id == var
        ):
            found.append((sub, manager.attr, sub.func.attr))
    return found


def _report(
    ctx: Context,
    query: Query,
    model: Model,
    var: str,
    nodes: list[ast.expr] | list[ast.stmt],
    loop: bool,
) -> None:
    seen: set[tuple[str, str]] = set()
    for call, rel, method in _manager_calls(nodes, var):
        if model.relations.get(rel) != "many" and not rel.endswith("_set"):
            continue
        if method not in _CACHED and method not in _QUERYING:
            continue
        if loop and method == "all":
            continue  # PD101's, in a for loop
        if method in _CACHED and (rel in query.eager or ALL in query.eager):
            continue
        if (rel, method) in seen:
            continue
        seen.add((rel, method))
        ctx.report(
            "PD121",
            call,
            f"{var}.{rel}.{method}() runs one query per row: " + fix(model, var, rel, method),
            relation=f"{model.name}.{rel}",
        )


def _django(node: ast.expr, ctx: Context) -> tuple[Query, Model] | None:
    query = query_of(node, ctx)
    if query is None or query.orm != "django" or query.values:
        return None
    model = ctx.model(query.model)
    if model is None or model.orm != "django":
        return None
    return query, model


@rule(
    "PD121",
    "related-manager-per-row",
    "A reverse-FK or many-to-many manager is queried once per row of a queryset (N+1 queries).",
    nodes=(ast.For, ast.AsyncFor, *_COMPS),
    triggers=(".objects",),
)
def check(node: ast.AST, ctx: Context) -> None:
    if isinstance(node, (ast.For, ast.AsyncFor)):
        if not isinstance(node.target, ast.Name):
            return
        found = _django(node.iter, ctx)
        if found is not None:
            _report(ctx, *found, node.target.id, node.body, loop=True)
        return
    assert isinstance(node, _COMPS)
    generators = node.generators
    for i, gen in enumerate(generators):
        if not isinstance(gen.target, ast.Name):
            continue
        found = _django(gen.iter, ctx)
        if found is None:
            continue
        if isinstance(node, ast.DictComp):
            elements: list[ast.expr] = [node.key, node.value]
        else:
            elements = [node.elt]
        later: list[ast.expr] = [*gen.ifs]
        for other in generators[i + 1 :]:
            later += [other.iter, *other.ifs]
        _report(ctx, *found, gen.target.id, elements + later, loop=False)
