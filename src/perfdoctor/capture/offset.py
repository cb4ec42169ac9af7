"""The OFFSET of a paginated query, kept as a number for ``large-offset``.

Statements are stored with their literals replaced, so the offset would be lost;
an offset is a page position, not user data, so it is kept, but only ever as an
``int``: a parameter of any other type in that position is not looked at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

# OFFSET followed by a placeholder of any paramstyle or by a literal.
_OFFSET = re.compile(
    r"\bOFFSET\s+(?:(?P<literal>\d+)|(?P<qmark>\?)|(?P<format>%s)"
    r"|%\((?P<pyformat>\w+)\)s|:(?P<named>[A-Za-z_]\w*)|\$(?P<numeric>\d+))",
    re.IGNORECASE,
)
# MySQL's LIMIT offset, count (SQLAlchemy's MySQL dialect writes it).
_MYSQL_LIMIT = re.compile(
    r"\bLIMIT\s+(?:(?P<literal>\d+)|(?P<qmark>\?)|(?P<format>%s)"
    r"|%\((?P<pyformat>\w+)\)s|:(?P<named>[A-Za-z_]\w*))\s*,",
    re.IGNORECASE,
)


# statement text -> (the first string seen with that text, whether it has an OFFSET
# clause): one dict probe on the hot path instead of scanning a long ORM statement
# for the word, and a span keeps that first string, not the one its query ran: the
# Django ORM builds its SQL anew for every query, and a request's spans each held
# their own copy until the request ended (through the Django ORM, about 1 us of the
# request thread's time a query: RESULTS.md).
statements: dict[str, tuple[str, bool]] = {}
_MAX_REMEMBERED = 20_000


def remember(sql: str) -> tuple[str, bool]:
    """``sql`` and whether it has an OFFSET clause, remembered for its next run."""
    if len(statements) >= _MAX_REMEMBERED:
        statements.clear()
    found = statements[sql] = (sql, _match(sql) is not None)
    return found


@lru_cache(maxsize=2048)
def _match(sql: str) -> tuple[str, str | int] | None:
    found = _OFFSET.search(sql) or _MYSQL_LIMIT.search(sql)
    if found is None:
        return None
    kind = found.lastgroup or ""
    value = found.group(kind)
    if kind == "literal":
        return kind, int(value)
    if kind in ("qmark", "format"):
        # The position among the statement's placeholders of the same style.
        return "index", sql[: found.start(kind)].count(value)
    if kind == "numeric":
        return "index", int(value) - 1
    return "name", value


def offset_param(sql: str, params: Any) -> int | None:
    """The offset written in ``sql`` (Django inlines it) or passed as a parameter
    (SQLAlchemy binds it), if it is an int; else None."""
    try:
        found = _match(sql)
        if found is None:
            return None
        how, where = found
        value: Any = None
        if how == "index" and isinstance(params, Sequence) and not isinstance(params, str):
            assert isinstance(where, int)
            if 0 <= where < len(params):
                value = params[where]
        elif how == "name" and isinstance(params, Mapping):
            value = params.get(where)
        elif how == "literal":
            value = where
        return value if type(value) is int else None
    except Exception:
        return None
