"""The indexes a database already has, which of them go unused, and which duplicate another.

Unused: PostgreSQL counts scans per index (``pg_stat_user_indexes``, since the
last statistics reset); MySQL/MariaDB only with ``performance_schema`` on
(``sys.schema_unused_indexes``); SQLite keeps no such count.  Duplicates: an
index whose columns are a leading part of another index on the same table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from perfdoctor.advisor.connection import Session
from perfdoctor.advisor.stats import quote


@dataclass(frozen=True)
class Index:
    name: str
    table: str
    columns: tuple[str, ...]
    unique: bool = False
    primary: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "table": self.table, "columns": list(self.columns)}


def existing(session: Session, tables: list[str] | None = None) -> list[Index]:
    if session.dialect == "sqlite":
        return _sqlite(session, tables)
    if session.dialect == "postgresql":
        rows = session.query(
            "SELECT i.relname, t.relname, ix.indisunique, ix.indisprimary, "
            "array(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY k(n, o) "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o) "
            "FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid "
            "JOIN pg_class t ON t.oid = ix.indrelid "
            "WHERE t.relnamespace = to_regnamespace(current_schema())::oid"
        )
        return [Index(r[0], r[1], tuple(r[4]), bool(r[2]), bool(r[3])) for r in rows]
    rows = session.query(
        "SELECT INDEX_NAME, TABLE_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
    )
    grouped: dict[tuple[str, str], list[Any]] = defaultdict(list)
    unique: dict[tuple[str, str], bool] = {}
    for name, table, non_unique, column in rows:
        grouped[(name, table)].append(column)
        unique[(name, table)] = not int(non_unique)
    return [
        Index(n, t, tuple(cols), unique[(n, t)], n == "PRIMARY") for (n, t), cols in grouped.items()
    ]


def _sqlite(session: Session, tables: list[str] | None) -> list[Index]:
    names = tables or [
        str(r[0]) for r in session.query("SELECT name FROM sqlite_master WHERE type = 'table'")
    ]
    found: list[Index] = []
    for table in names:
        for col in session.query(f"PRAGMA table_info({quote('sqlite', table)})"):
            # An INTEGER PRIMARY KEY is the rowid: the table itself is ordered by it.
            if col[5] == 1 and str(col[2]).upper() == "INTEGER":
                found.append(Index("(rowid)", table, (str(col[1]),), True, True))
        for row in session.query(f"PRAGMA index_list({quote('sqlite', table)})"):
            name, unique, origin = str(row[1]), bool(row[2]), str(row[3])
            cols = session.query(f"PRAGMA index_info({quote('sqlite', name)})")
            found.append(Index(name, table, tuple(str(c[2]) for c in cols), unique, origin == "pk"))
    return found


def covered(indexes: list[Index], table: str, columns: tuple[str, ...]) -> Index | None:
    """An existing index that already starts with these columns, in this order."""
    want = tuple(c.lower() for c in columns)
    for index in indexes:
        have = tuple(c.lower() for c in index.columns)
        if index.table.lower() == table.lower() and have[: len(want)] == want:
            return index
    return None


def duplicates(indexes: list[Index]) -> list[tuple[Index, Index]]:
    """(redundant, kept) pairs: the redundant index's columns lead the kept one's."""
    pairs = []
    for a in indexes:
        if a.primary or a.name == "(rowid)":
            continue
        for b in indexes:
            if a is b or a.table != b.table or len(a.columns) > len(b.columns):
                continue
            lead = tuple(c.lower() for c in b.columns[: len(a.columns)])
            if lead != tuple(c.lower() for c in a.columns):
                continue
            same = len(a.columns) == len(b.columns)
            # A unique index enforces something a wider index does not; of two equal
            # ones, report one (the later name) as the duplicate.
            if a.unique and not (same and b.unique):
                continue
            if same and not b.unique and a.name < b.name:
                continue
            if same and a.unique and b.unique and a.name < b.name:
                continue
            pairs.append((a, b))
    return pairs


def unused(session: Session) -> tuple[list[Index], str | None]:
    """Unused indexes, or None-and-why where the database keeps no usage counts."""
    if session.dialect == "sqlite":
        return [], "SQLite keeps no index usage counts"
    if session.dialect == "postgresql":
        rows = session.query(
            "SELECT s.indexrelname, s.relname FROM pg_stat_user_indexes s "
            "JOIN pg_index i ON i.indexrelid = s.indexrelid "
            "WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary "
            "AND s.schemaname = current_schema()"
        )
        return [Index(str(r[0]), str(r[1]), ()) for r in rows], None
    enabled = session.query("SELECT @@performance_schema")
    if not enabled or not int(enabled[0][0]):
        return [], "performance_schema is OFF, so MySQL/MariaDB counts no index use"
    try:
        rows = session.query(
            "SELECT object_name, index_name FROM sys.schema_unused_indexes "
            "WHERE object_schema = DATABASE()"
        )
    except Exception as exc:  # the sys schema is optional
        return [], f"sys.schema_unused_indexes is not readable: {str(exc).splitlines()[0]}"
    return [Index(str(r[1]), str(r[0]), ()) for r in rows], None
