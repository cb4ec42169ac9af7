"""Table sizes and column cardinality, read from the database's own statistics.

PostgreSQL: ``pg_class.reltuples`` and ``pg_stats``; elsewhere (or where
PostgreSQL has no statistics yet) a bounded sample.  The advisor never runs
ANALYZE on the user's tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perfdoctor.advisor.connection import Session


@dataclass(frozen=True)
class ColumnStats:
    distinct: float  # distinct non-null values (estimated)
    top_share: float  # share of rows holding the most common value

    def to_dict(self) -> dict[str, Any]:
        return {"distinct": round(self.distinct), "top_share": round(self.top_share, 3)}


def quote(dialect: str, name: str) -> str:
    if dialect == "mysql":
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


class Stats:
    """Cached statistics for one session."""

    def __init__(self, session: Session, sample_rows: int) -> None:
        self.session = session
        self.sample_rows = sample_rows
        self._rows: dict[str, int | None] = {}
        self._columns: dict[str, list[str]] = {}
        self._column: dict[tuple[str, str], ColumnStats | None] = {}
        self._capped: set[str] = set()

    @property
    def dialect(self) -> str:
        return self.session.dialect

    def q(self, name: str) -> str:
        return quote(self.dialect, name)

    def at_least(self, table: str) -> bool:
        """Whether ``table_rows`` is a count that stopped at its bound (the table holds
        that many rows or more), not the database's own estimate."""
        return table.lower() in self._capped

    def table_rows(self, table: str) -> int | None:
        key = table.lower()
        if key not in self._rows:
            self._rows[key] = self._count(table)
        return self._rows[key]

    def _count(self, table: str) -> int | None:
        if not self.columns(table):
            return None
        if self.dialect == "postgresql":
            rows = self.session.query(
                "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [self.q(table)]
            )
            if rows and rows[0][0] is not None and float(rows[0][0]) >= 0:
                return int(float(rows[0][0]))
        # Exact up to a bound: beyond it the table is big whatever the figure.
        cap = self.sample_rows * 10
        rows = self.session.query(
            f"SELECT COUNT(*) FROM (SELECT 1 AS x FROM {self.q(table)} LIMIT {cap}) s"
        )
        if int(rows[0][0]) >= cap:
            self._capped.add(table.lower())
        return int(rows[0][0])

    def columns(self, table: str) -> list[str]:
        key = table.lower()
        if key not in self._columns:
            self._columns[key] = self._list_columns(table)
        return self._columns[key]

    def _list_columns(self, table: str) -> list[str]:
        if self.dialect == "sqlite":
            return [str(r[1]) for r in self.session.query(f"PRAGMA table_info({self.q(table)})")]
        if self.dialect == "postgresql":
            sql = (
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = %s "
                "ORDER BY ordinal_position"
            )
        else:
            sql = (
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION"
            )
        return [str(r[0]) for r in self.session.query(sql, [table])]

    def column(self, table: str, column: str) -> ColumnStats | None:
        key = (table.lower(), column.lower())
        if key not in self._column:
            found = self._pg_stats(table, column) if self.dialect == "postgresql" else None
            self._column[key] = found or self._sampled(table, column)
        return self._column[key]

    def _pg_stats(self, table: str, column: str) -> ColumnStats | None:
        rows = self.session.query(
            "SELECT n_distinct, most_common_freqs FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = %s AND attname = %s",
            [table, column],
        )
        if not rows:
            return None
        n_distinct, freqs = rows[0]
        total = self.table_rows(table) or 0
        # A negative n_distinct is a share of the rows (PostgreSQL's convention).
        distinct = float(n_distinct) if n_distinct >= 0 else -float(n_distinct) * total
        top = float(freqs[0]) if freqs else (1.0 / distinct if distinct else 1.0)
        return ColumnStats(distinct, top)

    def _sampled(self, table: str, column: str) -> ColumnStats | None:
        col, tbl = self.q(column), self.q(table)
        sample = f"SELECT {col} AS v FROM {tbl} LIMIT {self.sample_rows}"
        rows = self.session.query(
            f"SELECT COUNT(*), COUNT(DISTINCT v), "
            f"(SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM ({sample}) s2 GROUP BY v) s3) "
            f"FROM ({sample}) s1"
        )
        if not rows or not rows[0][0]:
            return None
        count, distinct, top = (float(x or 0) for x in rows[0])
        total = float(self.table_rows(table) or count)
        if distinct >= count * 0.95:
            # Nearly unique in the sample: assume it stays so over the whole table.
            distinct = max(distinct, total * distinct / count)
        return ColumnStats(distinct, top / count)

    def distinct_of(self, table: str, columns: tuple[str, ...]) -> float:
        """Distinct combinations of ``columns`` in a bounded sample."""
        if len(columns) == 1:
            found = self.column(table, columns[0])
            return found.distinct if found else 0.0
        cols = ", ".join(self.q(c) for c in columns)
        sample = f"SELECT {cols} FROM {self.q(table)} LIMIT {self.sample_rows}"
        rows = self.session.query(f"SELECT COUNT(*) FROM (SELECT DISTINCT * FROM ({sample}) s) d")
        return float(rows[0][0]) if rows else 0.0

    def sample_value(self, table: str, column: str) -> Any:
        """A value the column really holds, from a row in the middle of the table."""
        rows = self.table_rows(table) or 0
        offset = min(rows // 2, self.sample_rows)
        found = self.session.query(
            f"SELECT {self.q(column)} FROM {self.q(table)} "
            f"WHERE {self.q(column)} IS NOT NULL LIMIT 1 OFFSET {offset}"
        )
        if not found:
            col = self.q(column)
            found = self.session.query(
                f"SELECT {col} FROM {self.q(table)} WHERE {col} IS NOT NULL LIMIT 1"
            )
        return found[0][0] if found else None
