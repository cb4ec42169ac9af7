"""What a query statement says: its kind, its main table, its parse tree.

Which relation a query loads is not guessed here from table names: see
perfdoctor.orm.resolve, which reads it from the app's models.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import sqlglot
from sqlglot import exp

_DIALECTS = {"sqlite": "sqlite", "postgresql": "postgres", "mysql": "mysql"}
# sqlglot warns on stderr for a statement it keeps as an opaque command (Django's
# SET TIME ZONE on PostgreSQL): the report is no place for that; None is the answer.
logging.getLogger("sqlglot").setLevel(logging.ERROR)
# SQLAlchemy on psycopg 3 casts its parameters (%(pk_1)s::INTEGER, normalised to
# ?::INTEGER), which sqlglot cannot read; the cast says nothing of the query's shape.
_PLACEHOLDER_CAST = re.compile(r"\?::\w+(?:\s*\[\])?")


# Answers about a statement are kept for every distinct statement (a few bytes
# each), so each is parsed once however many spans ran it; the parse trees
# themselves (kilobytes each) are kept for the most recent ones only.
ANSWERS = lru_cache(maxsize=None)


@ANSWERS
def is_read(statement: str | None) -> bool:
    if not statement:
        return False
    head = statement.lstrip("( \n\t").split(None, 1)
    return bool(head) and head[0].upper() in ("SELECT", "WITH")


def singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("ses") or name.endswith("xes"):
        return name[:-2]
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def class_name(table: str) -> str:
    return "".join(part.capitalize() for part in singular(table).split("_"))


@ANSWERS
def main_table(statement: str, system: str | None) -> str | None:
    tree = _parse(statement, system)
    if tree is None:
        return None
    table = tree.find(exp.Table)
    return table.name if table is not None else None


@ANSWERS
def tables_of(statement: str, system: str | None) -> frozenset[str]:
    tree = _parse(statement, system)
    if tree is None:
        return frozenset()
    return frozenset(t.name.lower() for t in tree.find_all(exp.Table) if t.name)


@lru_cache(maxsize=1024)
def _parse(statement: str, system: str | None) -> exp.Expression | None:
    try:
        text = _PLACEHOLDER_CAST.sub("?", statement.replace("(...)", "(?)"))
        return sqlglot.parse_one(  # type: ignore[return-value]  # Expr is Expression
            text, read=_DIALECTS.get(system or "")
        )
    except Exception:
        return None
