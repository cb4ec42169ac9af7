"""What a normalised SELECT says about the rows it loads: tables, key filters, columns.

>>> s = shape('SELECT "t"."id" FROM "t" INNER JOIN "j" ON (1) WHERE "j"."t_id" = ?', "sqlite")
>>> s.table, sorted(s.tables), s.filters
('t', ['j', 't'], (('j', 't_id'),))

Names are lower-cased and stripped of schema prefixes, the way the catalog is
compared (``Catalog.by_table``).  The statement's literals are already ``?``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlglot import exp

from perfdoctor.detectors._sql import _parse

Column = tuple[str, str]  # (table, column), both lower case


@dataclass(frozen=True)
class Shape:
    table: str  # the table the rows come from (FROM of the SELECT that filters)
    tables: frozenset[str]  # every table of that SELECT (FROM and JOINs)
    filters: tuple[Column, ...]  # columns compared with a parameter: col = ? / col IN (?)
    selected: tuple[Column, ...] | None  # columns the SELECT returns; None for * or expressions
    aggregate: str | None  # "count" for COUNT(*), "exists" for EXISTS / SELECT 1 ... LIMIT
    limited: bool  # has a LIMIT
    ordered: bool  # has an ORDER BY
    # ORDER BY columns of the main table: (column, descending), in order
    order: tuple[tuple[str, bool], ...] = ()
    # the WHERE also compares a column with a parameter by range (BETWEEN, <, >,
    # LIKE): which parameter changes from row to row is then not known
    ranged: bool = False
    # GROUP BY: columns a JOIN adds to the SELECT would have to be grouped too
    grouped: bool = False


def _name(table: str) -> str:
    return table.lower().rsplit(".", 1)[-1]


def _unalias(node: exp.Expression) -> exp.Expression:
    return node.this if isinstance(node, exp.Alias) else node


def _from_table(select: exp.Select) -> exp.Table | None:
    source = select.args.get("from_") or select.args.get("from")
    node = source.this if isinstance(source, exp.From) else None
    return node if isinstance(node, exp.Table) else None


def _own_tables(select: exp.Select) -> list[exp.Table]:
    """Tables in this SELECT's FROM and JOINs, not in its subqueries."""
    tables = []
    first = _from_table(select)
    if first is not None:
        tables.append(first)
    for join in select.args.get("joins") or []:
        if isinstance(join.this, exp.Table):
            tables.append(join.this)
    return tables


def _filters(select: exp.Select, aliases: dict[str, str], main: str) -> list[Column]:
    where = select.args.get("where")
    if not isinstance(where, exp.Where):
        return []
    found: list[Column] = []

    def add(column: exp.Column) -> None:
        table = aliases.get(column.table.lower(), _name(column.table)) if column.table else main
        found.append((table, column.name.lower()))

    for eq in where.find_all(exp.EQ):
        left, right = eq.left, eq.right
        if isinstance(left, exp.Column) and isinstance(right, exp.Placeholder):
            add(left)
        elif isinstance(right, exp.Column) and isinstance(left, exp.Placeholder):
            add(right)
    for in_ in where.find_all(exp.In):
        if isinstance(in_.this, exp.Column) and any(
            isinstance(e, exp.Placeholder) for e in in_.expressions
        ):
            add(in_.this)
    return found


_RANGES = (exp.Between, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike)


def _ranged(select: exp.Select) -> bool:
    where = select.args.get("where")
    if not isinstance(where, exp.Where):
        return False
    return any(
        any(isinstance(part, exp.Placeholder) for part in node.iter_expressions())
        for node in where.find_all(*_RANGES)
    )


def _aggregate(outer: exp.Select) -> str | None:
    values = [_unalias(e) for e in outer.expressions]
    if any(isinstance(v, exp.Column) for v in values):
        # Rows with columns: an EXISTS or a COUNT beside them is an annotation
        # (django-oscar's products carry EXISTS(...) AS "has_product_options").
        return None
    if any(isinstance(v, exp.Count) for v in values):
        return "count"
    if any(isinstance(v, exp.Exists) for v in values):
        return "exists"
    # Django's .exists(): SELECT 1 AS "a" ... LIMIT 1 (the 1 normalised to ?).
    if values and all(isinstance(v, (exp.Placeholder, exp.Literal)) for v in values):
        return "exists"
    return None


@lru_cache(maxsize=1024)  # Shapes are frozen: one per statement, shared
def shape(statement: str, system: str | None) -> Shape | None:
    """The shape of a SELECT, or None when it is not one sqlglot can read."""
    tree = _parse(statement, system)
    if not isinstance(tree, exp.Select):
        return None
    aliases: dict[str, str] = {}
    for table in tree.find_all(exp.Table):
        aliases[table.alias_or_name.lower()] = _name(table.name)
    # The SELECT that filters on a parameter is the one that loads the rows: the
    # inner one of SQLAlchemy's count(*) FROM (SELECT ...) or EXISTS (SELECT ...).
    core = tree
    for select in tree.find_all(exp.Select):
        first = _from_table(select)
        if first is not None and _filters(select, aliases, _name(first.name)):
            core = select
    first = _from_table(core)
    if first is None:
        return None
    main = _name(first.name)
    columns: list[Column] = []
    every = False  # SELECT * or an expression: which columns is not known
    for expression in core.expressions:
        value = _unalias(expression)
        if isinstance(value, exp.Column) and not isinstance(value.this, exp.Star):
            owner = aliases.get(value.table.lower(), _name(value.table)) if value.table else main
            columns.append((owner, value.name.lower()))
        else:
            every = True
    return Shape(
        table=main,
        tables=frozenset(_name(t.name) for t in _own_tables(core)),
        filters=tuple(dict.fromkeys(_filters(core, aliases, main))),
        selected=None if every or not columns else tuple(columns),
        aggregate=_aggregate(tree),
        limited=bool(tree.args.get("limit") or core.args.get("limit")),
        ordered=bool(tree.args.get("order") or core.args.get("order")),
        order=_order(core, aliases, main),
        ranged=_ranged(core),
        grouped=bool(core.args.get("group")),
    )


def _order(select: exp.Select, aliases: dict[str, str], main: str) -> tuple[tuple[str, bool], ...]:
    clause = select.args.get("order")
    if not isinstance(clause, exp.Order):
        return ()
    found: list[tuple[str, bool]] = []
    for item in clause.expressions:
        column = item.this if isinstance(item, exp.Ordered) else item
        if not isinstance(column, exp.Column):
            return ()  # an expression: not something a fix can name
        owner = aliases.get(column.table.lower(), _name(column.table)) if column.table else main
        if owner != main:
            return ()
        found.append((column.name.lower(), bool(item.args.get("desc"))))
    return tuple(found)
