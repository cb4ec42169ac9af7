"""What the SQLAlchemy rules share: the rows a loop or comprehension walks, and the
fix for each way a row loads a relation, in the words of the runtime report."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from perfdoctor.lint.context import Context
from perfdoctor.lint.infer import ALL, Query, query_of
from perfdoctor.lint.project import Model
from perfdoctor.lint.rules._util import walk_local
from perfdoctor.orm.sa_loading import children_query, count_query, eager_option

# Text a file must hold for a SQLAlchemy query in it to be known.
SA_HINTS = (".query(", ".query.", "select(", "paginate(")
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
LOOPS = (ast.For, ast.AsyncFor)


@dataclass(frozen=True)
class Rows:
    """``for var in <query>``: the loop variable, the query, and what runs per row."""

    var: str
    query: Query
    model: Model | None
    body: list[ast.AST]


def rows(node: ast.AST, ctx: Context) -> Rows | None:
    """The SQLAlchemy rows a for loop or comprehension walks, one object per row."""
    body: list[ast.AST]
    if isinstance(node, LOOPS):
        target, iterable, body = node.target, node.iter, list(node.body)
    elif isinstance(node, COMPREHENSIONS):
        first = node.generators[0]
        target, iterable = first.target, first.iter
        body = [*first.ifs, *node.generators[1:]]
        body += [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
    else:
        return None
    if not isinstance(target, ast.Name):
        return None
    query = query_of(iterable, ctx)
    if query is None or query.orm != "sqlalchemy" or query.select or query.values:
        return None
    if ALL in query.eager:
        return None
    model = ctx.model(query.model)
    if model is not None and model.orm != "sqlalchemy":
        return None
    return Rows(target.id, query, model, body)


def per_row(found: Rows) -> Iterator[ast.AST]:
    """Every node of what runs once per row, not entering nested functions."""
    return walk_local(cast("list[ast.expr]", found.body))


def row_attributes(found: Rows) -> Iterator[ast.Attribute]:
    """``var.name`` loads in what runs per row."""
    for sub in per_row(found):
        if (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.value, ast.Name)
            and sub.value.id == found.var
            and isinstance(sub.ctx, ast.Load)
        ):
            yield sub


def lazy(model: Model, query: Query, rel: str) -> bool:
    """``rel`` is a relation this query leaves to load one row at a time on first read."""
    return (
        rel in model.relations
        and rel not in model.dynamic
        and rel not in model.eager
        and rel not in query.eager
    )


def eager_fix(model: Model, rel: str, query: Query) -> str:
    option = eager_option(model.name, rel, model.relations[rel] == "many")
    what = "query" if query.legacy else "select"
    return f"add .options({option}) to the {what} this loop iterates"


def dynamic_fix(project_model: Model, rel: str, target: Model | None, count: bool) -> str:
    owner = project_model.name
    declared = (
        "WriteOnlyMapped" if project_model.dynamic.get(rel) == "write_only" else 'lazy="dynamic"'
    )
    pk = project_model.pk or "id"
    target_name = target.name if target else project_model.targets.get(rel, "?")
    if count:
        code, alias = count_query(owner, pk, rel, target_name, (target and target.pk) or "id")
        return (
            f"{owner}.{rel} is {declared}, it cannot be eager-loaded: count it for every row "
            f"in one query before the loop: {alias}counts = dict(session.execute({code}).all()) "
            f"(ids: the rows' {owner}.{pk}; from sqlalchemy import func), then "
            "counts.get(id, 0)"
        )
    code, alias = children_query(owner, pk, rel, target_name)
    return (
        f"{owner}.{rel} is {declared}, it cannot be eager-loaded: load the {target_name} rows "
        f"of every row in one query before the loop: {alias}session.execute({code}) "
        f"(ids: the rows' {owner}.{pk}), grouped by the first column"
    )


def counts(call: ast.AST) -> bool:
    """A count of the relation: ``.count()``, or ``select(func.count()).select_from(...)``."""
    return "count(" in ast.unparse(call)
