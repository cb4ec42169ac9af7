"""What ``perfdoctor explain`` and ``perfdoctor indexes`` do, behind their options."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from perfdoctor.advisor.advisor import Advice, Explained, advise, explain_queries
from perfdoctor.advisor.connection import connect, parse_url
from perfdoctor.advisor.output import render_advice, render_explained
from perfdoctor.advisor.queries import (
    COMMAND_LINE,
    Query,
    from_command_line,
    from_pg_log,
    from_pg_stat_statements,
    from_traces,
)
from perfdoctor.errors import BadInputs, UsageError
from perfdoctor.progress import Feedback
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
    progress = Feedback.for_format(fmt)
    explained = explain_queries(url, queries, settings, analyze=analyze, progress=progress)
    if _analysed(explained):
        render_explained(explained, fmt, out)
    _refuse_unusable(explained)


def run_indexes(
    url: str,
    queries: list[Query],
    settings: Settings,
    use_hypopg: bool,
    fmt: str,
    out: TextIO,
    allow_locks: bool = False,
) -> Advice:
    progress = Feedback.for_format(fmt)
    advice = advise(
        url, queries, settings, use_hypopg=use_hypopg, allow_locks=allow_locks, progress=progress
    )
    if _analysed(advice.explained):
        render_advice(advice, fmt, out)
    _refuse_unusable(advice.explained)
    return advice


def _analysed(explained: list[Explained]) -> bool:
    return any(e.plan is not None for e in explained)


def _refuse_unusable(explained: list[Explained]) -> None:
    """Exit 2, one line each, for a --query the advisor could not analyse (the user
    typed it: a typo must not pass as a clean run), or when no query at all could be.

    Queries from the trace store or the database's statistics that cannot be
    analysed (writes, other databases' tables) are listed in the output instead."""
    failed = [e.query for e in explained if e.plan is None]
    typed = [q for q in failed if q.source == COMMAND_LINE]
    lines = [f"--query {q.short!r}: {q.skipped or 'not analysed'}" for q in typed]
    if not _analysed(explained) and len(typed) < len(failed):
        first = next(q for q in failed if q.source != COMMAND_LINE)
        lines.append(
            f"none of the {len(failed) - len(typed)} queries found could be analysed on "
            f"this database; the first, from {first.source}: {first.short!r}: {first.skipped}"
        )
    if lines:
        raise BadInputs(lines)
