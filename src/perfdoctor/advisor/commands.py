"""What ``perfdoctor explain`` and ``perfdoctor indexes`` do, behind their options."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from perfdoctor.advisor.advisor import Advice, advise, explain_queries
from perfdoctor.advisor.connection import connect, parse_url
from perfdoctor.advisor.output import render_advice, render_explained
from perfdoctor.advisor.queries import (
    Query,
    from_command_line,
    from_pg_log,
    from_pg_stat_statements,
    from_traces,
)
from perfdoctor.errors import UsageError
from perfdoctor.settings import Settings


def gather(
    url: str,
    settings: Settings,
    statements: tuple[str, ...] = (),
    traces: Path | None = None,
    pg_stat_statements: bool = False,
    pg_log: Path | None = None,
) -> list[Query]:
    parsed = parse_url(url)
    dialect = parsed.dialect
    queries = from_command_line(list(statements))
    if traces is not None:
        found = from_traces(traces, dialect, settings.advisor_max_queries, sys.stderr)
        if not found and not statements:
            raise UsageError(
                f"the trace store {traces} holds no SELECT on {dialect}: "
                "capture the app with perfdoctor run first, or give --query"
            )
        queries.extend(found)
    if pg_stat_statements:
        if dialect != "postgresql":
            raise UsageError("--pg-stat-statements needs a postgresql:// URL")
        with connect(
            url, settings.advisor_lock_timeout_ms, settings.advisor_statement_timeout_ms
        ) as s:
            queries.extend(from_pg_stat_statements(s, settings.advisor_max_queries))
    if pg_log is not None:
        if dialect != "postgresql":
            raise UsageError("--pg-log reads PostgreSQL's log: it needs a postgresql:// URL")
        database = parsed.database or parsed.user
        queries.extend(from_pg_log(pg_log, database, settings.advisor_max_queries))
    if not queries:
        raise UsageError(
            "nothing to analyse: give --query SQL, --traces PATH, --pg-stat-statements or --pg-log"
        )
    return queries


def run_explain(
    url: str, queries: list[Query], settings: Settings, analyze: bool, fmt: str, out: TextIO
) -> None:
    render_explained(explain_queries(url, queries, settings, analyze=analyze), fmt, out)


def run_indexes(
    url: str, queries: list[Query], settings: Settings, use_hypopg: bool, fmt: str, out: TextIO
) -> Advice:
    advice = advise(url, queries, settings, use_hypopg=use_hypopg)
    render_advice(advice, fmt, out)
    return advice
