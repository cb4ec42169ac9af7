"""Try a candidate index and measure each query's cost with it, without keeping it.

PostgreSQL: a HypoPG hypothetical index when the extension can be made (created,
if need be, inside the transaction that is rolled back), otherwise a real
``CREATE INDEX`` inside a transaction that is rolled back, which locks the table
(the user agrees to that first: see :mod:`perfdoctor.advisor.locks`).  SQLite: the same
rolled-back ``CREATE INDEX`` (SQLite DDL is transactional).  MySQL/MariaDB:
DDL commits by itself there, so nothing is created: the cost with the index is
*estimated* from the table's own statistics (rows / distinct values of the
equality columns) and reported as not verified.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from perfdoctor.advisor import explain_mysql, explain_sqlite
from perfdoctor.advisor.candidates import Candidate, Resolver
from perfdoctor.advisor.connection import (
    MySQLSession,
    PostgresSession,
    Session,
    SQLiteSession,
    first_line,
)
from perfdoctor.advisor.explain_postgres import cost_in_transaction
from perfdoctor.advisor.plans import INDEX, SCAN, Plan
from perfdoctor.advisor.queries import Query
from perfdoctor.advisor.stats import Stats, quote

HYPOPG = "hypopg"
ROLLBACK = "rolled-back CREATE INDEX"
ESTIMATE = "estimated from statistics (not verified)"
ESTIMATE_WHY = (
    "MySQL/MariaDB cannot plan with an index that does not exist, and creating one "
    "commits a schema change, so the cost with the index is estimated from the "
    "table's row count and the distinct values of its columns"
)
_TRIAL = "perfdoctor_trial_ix"


def _ddl(session: Session, candidate: Candidate, n: int = 0) -> str:
    cols = ", ".join(quote(session.dialect, c) for c in candidate.columns)
    table = quote(session.dialect, candidate.table)
    return f"CREATE INDEX {_TRIAL}{n} ON {table} ({cols})"


@dataclass(frozen=True)
class NoHypoPG:
    """Why PostgreSQL candidates would be built for real, and how HypoPG could be had."""

    why: str
    remedy: str


def postgres_method(session: PostgresSession, use_hypopg: bool) -> tuple[str, NoHypoPG | None]:
    """HYPOPG when hypothetical indexes can be made here, else ROLLBACK and why not."""
    if not use_hypopg:
        return ROLLBACK, NoHypoPG(
            "--no-hypopg turns HypoPG off", "drop --no-hypopg to try with HypoPG, lock-free"
        )
    if not session.query("SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'"):
        major = int(session.query("SHOW server_version_num")[0][0]) // 10_000
        return ROLLBACK, NoHypoPG(
            "HypoPG is not installed on this server",
            f"install HypoPG (the postgresql-{major}-hypopg package) to try lock-free",
        )
    try:
        with session.scratch():
            session.query("CREATE EXTENSION IF NOT EXISTS hypopg")
    except Exception as exc:  # no right to create it: say so, never build silently instead
        return ROLLBACK, NoHypoPG(
            f"HypoPG cannot be created here ({first_line(exc)})",
            "have a superuser run CREATE EXTENSION hypopg in this database to try lock-free",
        )
    return HYPOPG, None


def _pg_cost(session: PostgresSession, query: Query) -> float:
    if query.bound_sql is not None:
        return cost_in_transaction(session, query.bound_sql, [])
    return cost_in_transaction(session, query.sql.replace("(...)", "(?)"), None)


def _pg_trial(
    session: PostgresSession, trial: Sequence[Candidate], queries: Sequence[Query], method: str
) -> list[float]:
    with session.scratch():
        if method != HYPOPG:
            for n, cand in enumerate(trial):
                session.query(_ddl(session, cand, n))
            return [_pg_cost(session, q) for q in queries]
        session.query("CREATE EXTENSION IF NOT EXISTS hypopg")
        session.query("SAVEPOINT perfdoctor_hypopg")
        try:
            for n, cand in enumerate(trial):
                session.query("SELECT * FROM hypopg_create_index(%s)", [_ddl(session, cand, n)])
            return [_pg_cost(session, q) for q in queries]
        except Exception:
            session.query("ROLLBACK TO SAVEPOINT perfdoctor_hypopg")
            raise
        finally:
            # Hypothetical indexes live in this backend's memory, not in the
            # transaction: reset them whatever happened.
            session.query("SELECT hypopg_reset()")


def _sqlite_trial(
    session: SQLiteSession, trial: Sequence[Candidate], queries: Sequence[Query]
) -> list[float]:
    has_stats = bool(session.query("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"))
    with session.scratch():
        for n, cand in enumerate(trial):
            session.query(_ddl(session, cand, n))
            if has_stats:
                # The planner then weighs the trial index as it will once the user has
                # run ANALYZE after adding it; rolled back with the index.
                session.query(f"ANALYZE {_TRIAL}{n}")
        return [float(explain_sqlite.cost_of(session, q.bound_sql or "")) for q in queries]


def _mysql_apply(stats: Stats, candidate: Candidate, query: Query, plan: Plan) -> Plan | None:
    """The plan as it would be if ``candidate`` served the query's equalities on its
    table: that table's rows become rows / distinct values of those columns."""
    from perfdoctor.advisor.candidates import _collect

    uses = _collect(query, Resolver(query, stats)).get(candidate.table)
    if uses is None:
        return None
    prefix: list[str] = []
    for col in candidate.columns:
        if col not in uses.eq:
            break
        prefix.append(col)
    if not prefix:
        return None
    rows = float(stats.table_rows(candidate.table) or 0)
    distinct = stats.distinct_of(candidate.table, tuple(prefix))
    per_key = rows / distinct if distinct else rows
    changed = copy.deepcopy(plan)
    for node in changed.nodes():
        if (
            node.table == candidate.table
            and node.op in (SCAN, INDEX)
            and (node.rows or 0) > per_key
        ):
            node.op, node.rows, node.cost = INDEX, per_key, per_key
    return changed


def _mysql_estimate(
    stats: Stats, trial: Sequence[Candidate], query: Query, plan: Plan
) -> float | None:
    changed: Plan | None = plan
    applied = False
    for cand in trial:
        after = _mysql_apply(stats, cand, query, changed or plan)
        if after is not None:
            changed, applied = after, True
    if not applied or changed is None:
        return None
    return explain_mysql._examined(changed.root)


def trial_costs(
    session: Session,
    stats: Stats,
    trial: Sequence[Candidate],
    queries: Sequence[Query],
    plans: Sequence[Plan],
    method: str,
) -> tuple[list[float | None], str]:
    """Each query's cost with the ``trial`` indexes in place, and how that was found."""
    if isinstance(session, PostgresSession):
        return list(_pg_trial(session, trial, queries, method)), method
    if isinstance(session, SQLiteSession):
        return list(_sqlite_trial(session, trial, queries)), ROLLBACK
    assert isinstance(session, MySQLSession)
    return [
        _mysql_estimate(stats, trial, q, p) for q, p in zip(queries, plans)
    ], ESTIMATE


def helps(before: float | None, after: float | None, min_saving_pct: float) -> bool:
    if before is None or after is None or before <= 0:
        return False
    return after <= before * (1 - min_saving_pct / 100)


def describe(method: str) -> dict[str, Any]:
    return {
        "method": method,
        "verified": method != ESTIMATE,
        **({"why_not_verified": ESTIMATE_WHY} if method == ESTIMATE else {}),
    }
