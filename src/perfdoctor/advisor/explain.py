"""One call for every database: the plan of a prepared query."""

from __future__ import annotations

from sqlglot import exp

from perfdoctor.advisor import explain_mysql, explain_postgres, explain_sqlite
from perfdoctor.advisor.connection import MySQLSession, PostgresSession, Session, SQLiteSession
from perfdoctor.advisor.plans import Plan
from perfdoctor.advisor.queries import Query


class Unexplainable(Exception):
    """The query cannot be explained as it stands; the message is the reason."""


def unknown_function(query: Query) -> str | None:
    """A function sqlglot does not know (pg_terminate_backend, a user's own...): it may
    have side effects, so a statement calling one is explained, never run."""
    if query.tree is None:
        return None
    for call in query.tree.find_all(exp.Anonymous):
        return str(call.name)
    return None


def plan_for(session: Session, query: Query, analyze: bool = False) -> Plan:
    if isinstance(session, SQLiteSession):
        if query.bound_sql is None:
            raise Unexplainable("no representative value found for a placeholder")
        # SQLite's cost is measured by running the statement: only what is known safe.
        measure = unknown_function(query) is None
        return explain_sqlite.explain(
            session, query.bound_sql, aliases=query.aliases, measure=measure
        )
    if isinstance(session, PostgresSession):
        if query.bound_sql is None:
            # The generic plan needs no values, but ANALYZE would run with NULLs.
            return explain_postgres.explain(session, query.sql.replace("(...)", "(?)"), None)
        analyze = analyze and unknown_function(query) is None
        return explain_postgres.explain(session, query.bound_sql, [], analyze=analyze)
    if isinstance(session, MySQLSession):
        if query.bound_sql is None:
            raise Unexplainable("no representative value found for a placeholder")
        return explain_mysql.explain(session, query.bound_sql, aliases=query.aliases)
    raise Unexplainable(f"no EXPLAIN for {session.dialect}")  # pragma: no cover
