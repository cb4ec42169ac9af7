"""Where the advisor's queries come from, and which of them it may run.

Sources: the trace store (statements with literals stripped, ranked by total
time), ``pg_stat_statements``, and the command line.  Each query is parsed
once (sqlglot); anything but one plain SELECT is skipped with its reason, so
nothing the advisor runs can write.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from perfdoctor.errors import DatabaseError
from perfdoctor.model import Location

SQLGLOT_DIALECT = {"sqlite": "sqlite", "postgresql": "postgres", "mysql": "mysql"}
_DOLLAR = re.compile(r"\$\d+")
# log_min_duration_statement lines: "... user@db LOG:  duration: 1.2 ms  statement: SELECT ..."
# (or "execute <name>: ..." for the extended protocol); a long statement goes on
# on lines that start with a tab.
_PG_LOG = re.compile(
    r"(?:(?P<who>\S*)@(?P<db>\S*) )?LOG:\s+duration: (?P<ms>[\d.]+) ms\s+"
    r"(?:statement|execute [^:]*): (?P<sql>.*)$"
)


@dataclass
class Query:
    sql: str
    source: str
    calls: int = 1
    total_ms: float = 0.0
    endpoints: list[str] = field(default_factory=list)
    # Where the app ran it, by endpoint (the first call site seen there).
    locations: dict[str, Location] = field(default_factory=dict)
    tree: exp.Expression | None = None
    skipped: str | None = None
    # Table name by alias (and by its own name) for the tables the query reads.
    aliases: dict[str, str] = field(default_factory=dict)
    # The statement with representative values in place of its placeholders,
    # or None when some placeholder could not be given one.
    bound_sql: str | None = None
    placeholders: int = 0

    @property
    def short(self) -> str:
        text = " ".join(self.sql.split())
        return text if len(text) <= 160 else text[:157] + "..."

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"sql": self.sql, "source": self.source, "calls": self.calls}
        if self.total_ms:
            data["total_ms"] = round(self.total_ms, 2)
        if self.endpoints:
            data["endpoints"] = self.endpoints
        if self.skipped:
            data["skipped"] = self.skipped
        return data


def _parse(sql: str, dialect: str, max_bytes: int) -> exp.Expression | str:
    """The statement's tree, or why the advisor will not touch it."""
    size = len(sql.encode("utf-8", "replace"))
    if size > max_bytes:
        return f"statement is {size:,} bytes, over advisor_max_statement_bytes ({max_bytes:,})"
    text = sql.replace("(...)", "(?)")
    try:
        trees = [t for t in sqlglot.parse(text, read=SQLGLOT_DIALECT[dialect]) if t is not None]
    except (ParseError, TokenError) as exc:
        return f"syntax error: {str(exc).splitlines()[0]}"
    if len(trees) != 1:
        return "not a single statement"
    tree = trees[0]
    if not isinstance(tree, (exp.Select, exp.Union, exp.Intersect, exp.Except)):
        return f"not a SELECT ({tree.key.upper()}): the advisor only explains reads"
    writes = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop)
    if tree.find(*writes) is not None or tree.find(exp.Into) is not None:
        return "the SELECT writes (INTO or a data-changing CTE): skipped"
    if tree.find(exp.Lock) is not None:
        return "SELECT ... FOR UPDATE/SHARE takes row locks: skipped"
    return tree


def prepare(query: Query, dialect: str, max_bytes: int) -> Query:
    parsed = _parse(query.sql, dialect, max_bytes)
    if isinstance(parsed, str):
        query.skipped = parsed
        return query
    query.tree = parsed
    ctes = {c.alias_or_name.lower() for c in parsed.find_all(exp.CTE)}
    for table in parsed.find_all(exp.Table):
        if table.name and table.name.lower() not in ctes:
            query.aliases[table.alias_or_name.lower()] = table.name
            query.aliases.setdefault(table.name.lower(), table.name)
    query.placeholders = sum(1 for _ in parsed.find_all(exp.Placeholder, exp.Parameter))
    if not query.aliases:
        query.skipped = "reads no table"
    return query


COMMAND_LINE = "command line"


def from_command_line(statements: list[str]) -> list[Query]:
    return [Query(sql, COMMAND_LINE) for sql in statements]


def from_traces(path: Path, dialect: str, limit: int, warn: TextIO | None = None) -> list[Query]:
    """The store's distinct SELECT statements on this kind of database, by total
    time; what the store could not give back is written to ``warn``."""
    from perfdoctor import store
    from perfdoctor.model import SERVER_KIND

    groups: dict[str, Query] = {}
    endpoints: dict[str, set[str]] = defaultdict(set)
    for trace in store.load_traces(path, warn):
        for span in trace.db_spans():
            if span.system != dialect or not span.statement:
                continue
            key = span.fingerprint or span.statement
            query = groups.setdefault(key, Query(span.statement, "traces", calls=0))
            query.calls += 1
            query.total_ms += span.duration_ms
            if trace.kind != SERVER_KIND:
                endpoints[key].add(trace.name)
            if span.location is not None:
                query.locations.setdefault(trace.name, span.location)
    for key, query in groups.items():
        query.endpoints = sorted(endpoints[key])
    ranked = sorted(groups.values(), key=lambda q: -q.total_ms)
    selects = [q for q in ranked if q.sql.lstrip("( ").upper().startswith(("SELECT", "WITH"))]
    return selects[:limit]


def from_pg_stat_statements(session: Any, limit: int) -> list[Query]:
    installed = session.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
    if not installed:
        raise DatabaseError(
            "pg_stat_statements is not installed in this database: add it to "
            "shared_preload_libraries and run CREATE EXTENSION pg_stat_statements, "
            "or give --traces or --query"
        )
    try:
        with session.read_only():
            rows = session.query(
                "SELECT query, calls, total_exec_time FROM pg_stat_statements "
                "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND query ~* '^\\s*(select|with)' ORDER BY total_exec_time DESC LIMIT %s",
                [limit],
            )
    except Exception as exc:
        raise DatabaseError(f"cannot read pg_stat_statements: {str(exc).splitlines()[0]}") from exc
    return [
        Query(
            _DOLLAR.sub("?", str(sql)), "pg_stat_statements", calls=int(calls), total_ms=float(ms)
        )
        for sql, calls, ms in rows
    ]


def from_pg_log(path: Path, database: str, limit: int) -> list[Query]:
    """Statements from PostgreSQL's slow-query log (``log_min_duration_statement``),
    literals stripped, grouped and ranked by total time; lines of other databases
    are left out when the log line prefix names the database (Debian's ``%u@%d``)."""
    from perfdoctor.fingerprint import normalize

    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DatabaseError(f"cannot read the PostgreSQL log {path}: {exc.strerror}") from exc
    entries: list[tuple[float, list[str]]] = []
    for line in text.splitlines():
        match = _PG_LOG.search(line)
        if match:
            if match.group("db") in (None, "", database):
                entries.append((float(match.group("ms")), [match.group("sql")]))
            else:
                entries.append((-1.0, []))
        elif line.startswith("\t") and entries and entries[-1][0] >= 0:
            entries[-1][1].append(line.strip())
    groups: dict[str, Query] = {}
    for ms, parts in entries:
        if ms < 0:
            continue
        sql = normalize(_DOLLAR.sub("?", " ".join(parts))).statement
        query = groups.setdefault(sql, Query(sql, "PostgreSQL log", calls=0))
        query.calls += 1
        query.total_ms += ms
    ranked = sorted(groups.values(), key=lambda q: -q.total_ms)
    return [q for q in ranked if q.sql.lstrip("( ").upper().startswith(("SELECT", "WITH"))][:limit]
