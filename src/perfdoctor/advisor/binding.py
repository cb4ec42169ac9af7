"""Representative values for a stored statement's placeholders.

The trace store keeps no parameter values, so each ``?`` compared with a column
gets a value that column really holds (sampled from the database); ``LIMIT ?``
gets a page size and ``OFFSET ?`` zero.  When a placeholder has no column to
sample, the statement stays unbound (PostgreSQL then uses its generic plan).

>>> # "WHERE email = ? LIMIT ?"  ->  "WHERE email = 'ann@example.com' LIMIT 20"
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from sqlglot import exp

from perfdoctor.advisor.queries import SQLGLOT_DIALECT, Query
from perfdoctor.advisor.stats import Stats

PAGE_SIZE = 20  # Django REST framework's and most admin pages' default page size
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike, exp.Is)


def _literal(value: Any) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float, decimal.Decimal)):
        return exp.Literal.number(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return exp.Literal.string(
            value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
        )
    if isinstance(value, (bytes, bytearray, memoryview)):
        return exp.Literal.string(bytes(value).hex())
    return exp.Literal.string(str(value))


def _column_for(node: exp.Expression) -> exp.Column | None:
    parent = node.parent
    if isinstance(parent, exp.In):
        this = parent.this
        return this if isinstance(this, exp.Column) else None
    if isinstance(parent, exp.Between):
        this = parent.this
        return this if isinstance(this, exp.Column) else None
    if isinstance(parent, _COMPARISONS):
        for side in (parent.this, parent.expression):
            if isinstance(side, exp.Column):
                return side
    return None


def bind(query: Query, stats: Stats) -> None:
    """Set ``query.bound_sql``: the statement with a sampled value for each placeholder."""
    if query.tree is None:
        return
    dialect = SQLGLOT_DIALECT[stats.dialect]
    if not query.placeholders:
        query.bound_sql = query.sql
        return
    tree = query.tree.copy()
    from perfdoctor.advisor.candidates import Resolver

    resolver = Resolver(query, stats)
    for node in list(tree.find_all(exp.Placeholder, exp.Parameter)):
        parent = node.parent
        if isinstance(parent, exp.Limit):
            node.replace(exp.Literal.number(PAGE_SIZE))
            continue
        if isinstance(parent, exp.Offset):
            node.replace(exp.Literal.number(0))
            continue
        column = _column_for(node)
        table = resolver.table_of(column) if column is not None else None
        if column is None or table is None:
            return
        value = stats.sample_value(table, resolver.real_name(table, column.name))
        if value is None:
            return
        if isinstance(parent, (exp.Like, exp.ILike)):
            value = f"{value}%"
        node.replace(_literal(value))
    query.bound_sql = tree.sql(dialect=dialect)
