"""Shallow inference: which expressions are ORM querysets/queries, and what they load.

Only what the code says in plain sight is believed: ``Model.objects`` chains,
``session.query(Model)``, ``session.execute(select(Model)).scalars()``,
``session.scalars(select(Model))`` and names bound to them. Anything else is
unknown, and rules stay silent on unknowns.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perfdoctor.lint.context import Context

ALL = "*"


@dataclass(frozen=True)
class Query:
    orm: str  # "django" or "sqlalchemy"
    model: str | None
    eager: frozenset[str] = frozenset()
    values: bool = False  # rows are dicts/tuples (values(), values_list()), not objects
    sliced: bool = False
    filtered: bool = False
    narrowed: bool = False  # only()/defer()/values(): columns already chosen
    all_called: bool = False
    select: bool = False  # a SQLAlchemy select(): a statement, not rows yet
    legacy: bool = False  # a SQLAlchemy Query (session.query, Model.query): has .count()
    paged: bool = False  # Flask-SQLAlchemy paginate(): rows through .items (or iteration)


# Django QuerySet methods that return a QuerySet of the same rows' objects.
_DJANGO_SAME = {
    "all", "order_by", "distinct", "annotate", "alias", "using", "reverse",
    "select_for_update", "iterator", "extra", "none", "union", "intersection", "difference",
}  # fmt: skip
_DJANGO_FILTER = {"filter", "exclude", "complex_filter"}
_SA_SAME = {
    "order_by", "join", "outerjoin", "distinct", "group_by", "having", "execution_options",
    "yield_per", "all", "unique", "correlate", "select_from", "offset",
}  # fmt: skip
_SA_FILTER = {"filter", "filter_by", "where"}
_SA_LOADERS = {
    "joinedload", "selectinload", "subqueryload", "immediateload", "contains_eager",
    "defaultload", "raiseload", "noload", "lazyload",
}  # fmt: skip


def _first_segment(value: str) -> str:
    return value.split("__", 1)[0].split(".", 1)[0]


def _django_names(call: ast.Call) -> frozenset[str]:
    names: set[str] = set()
    if not call.args:
        return frozenset({ALL})
    for arg in call.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            names.add(_first_segment(arg.value))
        elif (
            isinstance(arg, ast.Call)
            and arg.args
            and isinstance(arg.args[0], ast.Constant)
            and isinstance(arg.args[0].value, str)
        ):
            names.add(_first_segment(arg.args[0].value))  # Prefetch("name", ...)
        else:
            return frozenset({ALL})
    return frozenset(names)


def _loader_target(node: ast.expr) -> str | None:
    """joinedload(Model.rel) / selectinload("rel") / joinedload(A.b).selectinload(...)."""
    while isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in _SA_LOADERS and isinstance(func, (ast.Name, ast.Attribute)):
            inner = func.value if isinstance(func, ast.Attribute) else None
            if isinstance(inner, ast.Call):
                node = inner  # a chained loader: the first one names the relation
                continue
            if node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Attribute):
                    return arg.attr
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    return _first_segment(arg.value)
        return None
    return None


def _sa_options(call: ast.Call) -> frozenset[str]:
    names: set[str] = set()
    for arg in call.args:
        target = _loader_target(arg)
        if target is None:
            return frozenset({ALL})
        names.add(target)
    return frozenset(names)


def is_session(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id.lower().endswith("session")
    if isinstance(node, ast.Attribute):
        return node.attr.lower().endswith("session")
    return False


def _model_arg(call: ast.Call) -> str | None:
    if len(call.args) == 1 and isinstance(call.args[0], ast.Name):
        return call.args[0].id
    return None


def _select(node: ast.expr, ctx: Context) -> Query | None:
    query = query_of(node, ctx)
    if query is not None and query.orm == "sqlalchemy" and query.select:
        return replace(query, select=False)
    return None


def query_of(node: ast.expr, ctx: Context) -> Query | None:
    if isinstance(node, ast.Name):
        value = ctx.lookup(node.id)
        return value if isinstance(value, Query) else None
    if isinstance(node, ast.Subscript):
        base = query_of(node.value, ctx)
        if base is not None and isinstance(node.slice, ast.Slice) and not base.select:
            return replace(base, sliced=True)
        return None
    if isinstance(node, ast.Attribute):
        if (
            node.attr in ("objects", "_default_manager")
            and isinstance(node.value, ast.Name)
            and node.value.id[:1].isupper()
        ):
            return Query("django", node.value.id)
        if (
            node.attr == "query"
            and isinstance(node.value, ast.Name)
            and node.value.id[:1].isupper()
        ):
            return Query("sqlalchemy", node.value.id, legacy=True)  # Flask-SQLAlchemy
        if node.attr == "items":
            base = query_of(node.value, ctx)
            return replace(base, paged=False) if base is not None and base.paged else None
        return None
    if not (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))):
        return None
    func = node.func
    if isinstance(func, ast.Name):
        if func.id == "select" and ctx.qualname(func) == "sqlalchemy.select":
            model = _model_arg(node)
            return Query("sqlalchemy", model, select=True) if model else None
        return None
    method, receiver = func.attr, func.value
    if method == "query" and is_session(receiver):
        model = _model_arg(node)
        return Query("sqlalchemy", model, legacy=True) if model else None
    if method == "paginate" and isinstance(receiver, ast.Name) and node.args:
        # db.paginate(select(Model)...): Flask-SQLAlchemy 3; the rows of a statement
        # built elsewhere are still rows of a query, of a model not known here.
        rows = _select(node.args[0], ctx)
        if rows is None and receiver.id == "db":
            rows = Query("sqlalchemy", None)
        return replace(rows, paged=True) if rows is not None else None
    if method == "scalars" and is_session(receiver) and len(node.args) == 1:
        return _select(node.args[0], ctx)
    if method == "scalars" and not node.args and isinstance(receiver, ast.Call):
        inner = receiver.func
        if (
            isinstance(inner, ast.Attribute)
            and inner.attr == "execute"
            and is_session(inner.value)
            and len(receiver.args) == 1
        ):
            return _select(receiver.args[0], ctx)
        return None
    base = query_of(receiver, ctx)
    if base is None:
        return None
    if base.orm == "django":
        return _django_method(base, method, node)
    return _sa_method(base, method, node)


def _django_method(base: Query, method: str, call: ast.Call) -> Query | None:
    if method in _DJANGO_SAME:
        return replace(base, all_called=base.all_called or method == "all")
    if method in _DJANGO_FILTER:
        return replace(base, filtered=True)
    if method == "select_related":
        return replace(base, eager=base.eager | _django_names(call))
    if method == "prefetch_related":
        return replace(base, eager=base.eager | _django_names(call))
    if method in ("only", "defer"):
        return replace(base, narrowed=True)
    if method in ("values", "values_list"):
        return replace(base, values=True, narrowed=True)
    return None


def _sa_method(base: Query, method: str, call: ast.Call) -> Query | None:
    if method in _SA_SAME:
        return replace(base, all_called=base.all_called or method == "all")
    if method in _SA_FILTER:
        return replace(base, filtered=True)
    if method == "options":
        return replace(base, eager=base.eager | _sa_options(call))
    if method in ("limit", "slice"):
        return replace(base, sliced=True)
    if method == "paginate" and base.legacy:
        return replace(base, paged=True)
    if method in ("with_only_columns", "load_only", "defer"):
        return replace(base, narrowed=True)
    return None
