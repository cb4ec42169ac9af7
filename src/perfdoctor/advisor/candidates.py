"""Candidate indexes from a query's WHERE, JOIN and ORDER BY columns.

Per table: equality columns first (most selective first), then one range
column, or else the ORDER BY columns, as one multi-column candidate; plus each
useful single column.  Small tables and low-cardinality or skewed columns give
no candidate (the seed's "when NOT to add indexes").

>>> # WHERE customer_id = ? ORDER BY created_at  ->  orders(customer_id, created_at),
>>> # orders(customer_id), orders(created_at)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from perfdoctor.advisor.queries import Query
from perfdoctor.advisor.stats import Stats

_RANGE = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)
_MAX_COLUMNS = 4  # wider keys rarely pay for their size; the seed never goes past three


@dataclass(frozen=True)
class Candidate:
    table: str
    columns: tuple[str, ...]
    # Equality columns followed by a range or ORDER BY column: the shape that
    # also spares a sort or a range filter, not just a lookup.
    ordered: bool = field(default=False, compare=False)

    @property
    def label(self) -> str:
        return f"{self.table}({', '.join(self.columns)})"

    @property
    def name(self) -> str:
        return "_".join(("ix", self.table, *self.columns))[:63].lower()


@dataclass
class _Uses:
    eq: list[str] = field(default_factory=list)
    range: list[str] = field(default_factory=list)
    sort: list[str] = field(default_factory=list)
    joined: list[str] = field(default_factory=list)  # equality columns from a join


def _conjuncts(condition: Any) -> Iterable[exp.Expression]:
    if not isinstance(condition, exp.Expression):
        return []
    if isinstance(condition, exp.Paren):
        return _conjuncts(condition.this)
    if isinstance(condition, exp.And):
        return [*_conjuncts(condition.left), *_conjuncts(condition.right)]
    return [condition]


class Resolver:
    def __init__(self, query: Query, stats: Stats) -> None:
        self.query = query
        self.stats = stats

    def table_of(self, column: exp.Column) -> str | None:
        if column.table:
            return self.query.aliases.get(column.table.lower())
        owners = {
            t
            for t in set(self.query.aliases.values())
            if column.name.lower() in (c.lower() for c in self.stats.columns(t))
        }
        return owners.pop() if len(owners) == 1 else None

    def real_name(self, table: str, column: str) -> str:
        for name in self.stats.columns(table):
            if name.lower() == column.lower():
                return name
        return column


def _add(uses: dict[str, _Uses], kind: str, table: str | None, column: str) -> None:
    if table is None:
        return
    bucket = getattr(uses.setdefault(table, _Uses()), kind)
    if column not in bucket:
        bucket.append(column)


def _collect(query: Query, resolver: Resolver) -> dict[str, _Uses]:
    uses: dict[str, _Uses] = {}
    tree = query.tree
    assert tree is not None
    conditions: list[exp.Expression] = []
    for where in tree.find_all(exp.Where):
        conditions.extend(_conjuncts(where.this))
    for join in tree.find_all(exp.Join):
        conditions.extend(_conjuncts(join.args.get("on")))
    for cond in conditions:
        left, right = cond.args.get("this"), cond.args.get("expression")
        if (
            isinstance(cond, exp.EQ)
            and isinstance(left, exp.Column)
            and isinstance(right, exp.Column)
        ):
            for side in (left, right):
                table = resolver.table_of(side)
                if table:
                    _add(uses, "eq", table, resolver.real_name(table, side.name))
                    _add(uses, "joined", table, resolver.real_name(table, side.name))
            continue
        column = left if isinstance(left, exp.Column) else right
        if not isinstance(column, exp.Column):
            continue
        table = resolver.table_of(column)
        name = resolver.real_name(table, column.name) if table else column.name
        if isinstance(cond, (exp.EQ, exp.In, exp.Is)):
            _add(uses, "eq", table, name)
        elif isinstance(cond, _RANGE) or (
            isinstance(cond, exp.Like) and not str(right.sql() if right else "").startswith("'%")
        ):
            _add(uses, "range", table, name)
    order = tree.args.get("order")
    if order is not None:
        sort = [o.this for o in order.expressions]
        tables = {resolver.table_of(c) if isinstance(c, exp.Column) else None for c in sort}
        owner = tables.pop() if len(tables) == 1 else None
        if owner is not None:
            for col in sort:
                _add(uses, "sort", owner, resolver.real_name(owner, col.name))
    return uses


def _unusable(
    stats: Stats, table: str, column: str, low_distinct: int, skewed_share: float
) -> str | None:
    """Why an index on this column would not pay, or None."""
    found = stats.column(table, column)
    if found is None:
        return "no statistics"
    if found.distinct <= low_distinct:
        return f"{found.distinct:.0f} distinct values (low cardinality)"
    if found.top_share >= skewed_share:
        return f"one value holds {found.top_share:.0%} of the rows (skewed)"
    return None


def for_query(
    query: Query,
    stats: Stats,
    min_table_rows: int,
    low_distinct: int,
    skewed_share: float,
    notes: list[str] | None = None,
    unique: frozenset[tuple[str, str]] = frozenset(),
) -> list[Candidate]:
    """Candidates for one query; ``notes`` collects the columns skipped and why.
    ``unique``: (table, column) pairs a one-column unique index already serves."""
    resolver = Resolver(query, stats)
    out: list[Candidate] = []
    skipped = notes if notes is not None else []
    for table, use in _collect(query, resolver).items():
        rows = stats.table_rows(table) or 0
        if rows < min_table_rows:
            note = f"{table}: {rows:,} rows, under advisor_min_table_rows ({min_table_rows:,})"
            if note not in skipped:
                skipped.append(note)
            continue

        def keep(cols: list[str], table: str = table) -> list[str]:
            kept = []
            for col in cols:
                why = _unusable(stats, table, col, low_distinct, skewed_share)
                if why is None:
                    kept.append(col)
                elif f"{table}.{col}: {why}" not in skipped:
                    skipped.append(f"{table}.{col}: {why}")
            return kept

        def rank(col: str, table: str = table) -> float:
            return -_distinct(stats, table, col)

        served = [c for c in use.eq if (table.lower(), c.lower()) in unique]
        if any(c not in use.joined for c in served):
            continue  # a constant equality on a unique key: one row, already indexed
        # A join on a unique key already has its index for that direction.
        eq = sorted(keep([c for c in use.eq if c not in served]), key=rank)
        ranges = keep(use.range)
        sort = [c for c in use.sort if c not in eq]
        shapes: list[tuple[list[str], bool]] = []
        if eq and ranges:
            shapes.append((eq + ranges[:1], True))
        if eq and sort:
            shapes.append((eq + sort, True))
        shapes.append((eq, False))
        shapes.extend(([c], False) for c in eq)
        shapes.extend(([c], False) for c in ranges)
        if sort and keep(sort[:1]):
            shapes.append((sort, False))
        for shape, ordered in shapes:
            cols = tuple(dict.fromkeys(shape))[:_MAX_COLUMNS]
            cand = Candidate(table, cols, ordered)
            if cols and cand not in out:
                out.append(cand)
    return out


def _distinct(stats: Stats, table: str, column: str) -> float:
    found = stats.column(table, column)
    return found.distinct if found else 0.0
