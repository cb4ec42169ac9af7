"""What a query statement says about the relation it loads, for writing fixes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp

_DIALECTS = {"sqlite": "sqlite", "postgresql": "postgres", "mysql": "mysql"}


def is_read(statement: str | None) -> bool:
    if not statement:
        return False
    head = statement.lstrip("( \n\t").split(None, 1)
    return bool(head) and head[0].upper() in ("SELECT", "WITH")


@dataclass(frozen=True, slots=True)
class Relation:
    """The relation a repeated query loads, as far as the SQL tells."""

    table: str  # the table the rows come from
    to_many: bool  # filtered on a foreign key (has-many / many-to-many) vs the primary key
    name: str  # the attribute name a user most likely gave the relation
    parent: str | None  # the parent table's singular name, when the SQL names it


def _strip_app_prefix(table: str, other_tables: list[str]) -> str:
    # Django prefixes tables with the app label: blog_author → author.
    if "_" in table and any(t.split("_", 1)[0] == table.split("_", 1)[0] for t in other_tables):
        return table.split("_", 1)[1]
    return table


def singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("ses") or name.endswith("xes"):
        return name[:-2]
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def plural(name: str) -> str:
    return name if name.endswith("s") else name + "s"


def class_name(table: str) -> str:
    return "".join(part.capitalize() for part in singular(table).split("_"))


def main_table(statement: str, system: str | None) -> str | None:
    tree = _parse(statement, system)
    if tree is None:
        return None
    table = tree.find(exp.Table)
    return table.name if table is not None else None


@lru_cache(maxsize=1024)
def _parse(statement: str, system: str | None) -> exp.Expression | None:
    try:
        return sqlglot.parse_one(  # type: ignore[return-value]  # Expr is Expression
            statement.replace("(...)", "(?)"), read=_DIALECTS.get(system or "")
        )
    except Exception:
        return None


def relation(
    statement: str, system: str | None, app_tables: tuple[str, ...] = ()
) -> Relation | None:
    tree = _parse(statement, system)
    if tree is None:
        return None
    tables = [t.name for t in tree.find_all(exp.Table)]
    if not tables:
        return None
    main = tables[0]
    where = tree.find(exp.Where)
    if where is None:
        return None
    filtered: list[exp.Column] = []
    for eq in where.find_all(exp.EQ):
        left, right = eq.left, eq.right
        if isinstance(left, exp.Column) and isinstance(right, exp.Placeholder):
            filtered.append(left)
        elif isinstance(right, exp.Column) and isinstance(left, exp.Placeholder):
            filtered.append(right)
    for in_ in where.find_all(exp.In):
        if isinstance(in_.this, exp.Column):
            filtered.append(in_.this)
    if not filtered:
        return None
    column = filtered[0]
    known = list(tables) + list(app_tables)
    base = _strip_app_prefix(main, known)
    if column.name.lower() in ("id", "pk", f"{singular(base)}_id") and (
        not column.table or column.table == main
    ):
        return Relation(main, to_many=False, name=singular(base), parent=None)
    parent = column.name[:-3] if column.name.lower().endswith("_id") else None
    through = column.table if column.table and column.table != main else None
    if through:
        stripped = _strip_app_prefix(through, known)
        if parent and stripped.startswith(parent + "_"):
            stripped = stripped[len(parent) + 1 :]
        name = stripped
    else:
        name = plural(base)
    return Relation(main, to_many=True, name=name, parent=parent)
