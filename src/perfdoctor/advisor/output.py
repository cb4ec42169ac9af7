"""The advisor's output: migrations for each kept index, as text or JSON."""

from __future__ import annotations

import hashlib
import json
from typing import Any, TextIO

from perfdoctor.advisor.advisor import Advice, Explained, Recommendation
from perfdoctor.advisor.candidates import Candidate
from perfdoctor.advisor.plans import number, render_tree
from perfdoctor.advisor.stats import quote
from perfdoctor.advisor.verify import describe

_DJANGO_NAME_MAX = 30  # Django refuses index names longer than 30 characters


def django_name(candidate: Candidate) -> str:
    name = candidate.name
    if len(name) <= _DJANGO_NAME_MAX:
        return name
    digest = hashlib.blake2b(name.encode(), digest_size=3).hexdigest()
    return f"{name[: _DJANGO_NAME_MAX - 7]}_{digest}"


def migrations(dialect: str, candidate: Candidate) -> dict[str, str]:
    cols = ", ".join(quote(dialect, c) for c in candidate.columns)
    table = quote(dialect, candidate.table)
    name = candidate.name
    if dialect == "postgresql":
        # CONCURRENTLY builds without blocking writes (and cannot run in a transaction).
        sql = f"CREATE INDEX CONCURRENTLY {name} ON {table} ({cols});"
    elif dialect == "mysql":
        # Online DDL: the table stays readable and writable while the index builds.
        sql = f"ALTER TABLE {table} ADD INDEX {name} ({cols}), ALGORITHM=INPLACE, LOCK=NONE;"
    else:
        sql = f"CREATE INDEX {name} ON {table} ({cols});"
    fields = ", ".join(f'"{c}"' for c in candidate.columns)
    django = f'models.Index(fields=[{fields}], name="{django_name(candidate)}")'
    alembic_cols = ", ".join(f'"{c}"' for c in candidate.columns)
    alembic = f'op.create_index("{name}", "{candidate.table}", [{alembic_cols}]'
    if dialect == "postgresql":
        alembic = (
            "with op.get_context().autocommit_block():\n    "
            + alembic
            + ", postgresql_concurrently=True)"
        )
    else:
        alembic += ")"
    return {"sql": sql, "django": django, "alembic": alembic}


def recommendation_dict(dialect: str, rec: Recommendation) -> dict[str, Any]:
    return {
        "table": rec.candidate.table,
        "columns": list(rec.candidate.columns),
        "name": rec.candidate.name,
        "rows": rec.rows,
        "cost_unit": rec.cost_unit,
        **describe(rec.method),
        "queries": [h.to_dict() for h in rec.helps],
        "migration": migrations(dialect, rec.candidate),
    }


def advice_dict(advice: Advice) -> dict[str, Any]:
    return {
        "dialect": advice.dialect,
        "indexes": [recommendation_dict(advice.dialect, r) for r in advice.recommendations],
        "rejected": [{"index": r.candidate.label, "reason": r.reason} for r in advice.rejected],
        "skipped_columns": advice.skipped_columns,
        "skipped_queries": [
            {"sql": e.query.sql, "reason": e.query.skipped}
            for e in advice.explained
            if e.query.skipped
        ],
        "unused_indexes": [i.to_dict() for i in advice.unused],
        "unused_note": advice.unused_note,
        "duplicate_indexes": [
            {"index": a.name, "table": a.table, "columns": list(a.columns), "covered_by": b.name}
            for a, b in advice.duplicates
        ],
        "queries": [e.to_dict() for e in advice.explained],
    }


def _pct(before: float, after: float) -> str:
    return f"{100 * (1 - after / before):.0f}%" if before else "-"


def render_advice(advice: Advice, fmt: str, out: TextIO) -> None:
    if fmt == "json":
        json.dump(advice_dict(advice), out, indent=2, default=str)
        out.write("\n")
        return
    w = out.write
    analysed = sum(1 for e in advice.explained if e.plan is not None)
    kept = len(advice.recommendations)
    w(f"perfdoctor indexes ({advice.dialect}): {analysed} quer{'y' if analysed == 1 else 'ies'} ")
    w(f"analysed, {kept} index{'' if kept == 1 else 'es'} proposed\n")
    for rec in advice.recommendations:
        info = describe(rec.method)
        rows = f"{rec.rows:,}" if rec.rows is not None else "?"
        w(f"\n+ {rec.candidate.label}  ({rows} rows; {info['method']})\n")
        if not info["verified"]:
            w(f"  not verified: {info['why_not_verified']}\n")
        for h in rec.helps:
            w(f"  helps: {h.query.short}\n")
            unit = rec.cost_unit
            w(f"     {unit}: {number(h.before, unit)} -> {number(h.after, unit)}")
            w(f" ({_pct(h.before, h.after)} less)")
            if h.alongside:
                w(f"; with {', '.join(h.alongside)} in place")
            if h.query.endpoints:
                w(f"; endpoints: {', '.join(h.query.endpoints)}")
            w("\n")
        for kind, text in migrations(advice.dialect, rec.candidate).items():
            w(f"  {kind}: " + text.replace("\n", "\n      ") + "\n")
    if advice.rejected:
        w("\nNot proposed:\n")
        for rej in advice.rejected:
            w(f"  - {rej.candidate.label}: {rej.reason}\n")
    if advice.skipped_columns:
        w("\nSkipped (seed: small tables, low-cardinality or skewed columns):\n")
        for note in advice.skipped_columns:
            w(f"  - {note}\n")
    _render_skipped(advice.explained, out)
    if advice.duplicates:
        w("\nDuplicate indexes:\n")
        for a, b in advice.duplicates:
            w(f"  - {a.name} on {a.table}({', '.join(a.columns)}) is covered by {b.name}\n")
    if advice.unused or advice.unused_note:
        w("\nUnused indexes:\n")
        if advice.unused_note:
            w(f"  ({advice.unused_note})\n")
        for index in advice.unused:
            w(f"  - {index.name} on {index.table}: no scan since statistics were reset\n")


def _render_skipped(explained: list[Explained], out: TextIO) -> None:
    skipped = [e for e in explained if e.query.skipped]
    if skipped:
        out.write("\nSkipped queries:\n")
        for e in skipped:
            out.write(f"  - {e.query.short}: {e.query.skipped}\n")


def render_explained(explained: list[Explained], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        json.dump({"queries": [e.to_dict() for e in explained]}, out, indent=2, default=str)
        out.write("\n")
        return
    for item in explained:
        if item.plan is None:
            continue
        out.write(f"\n{item.query.short}\n")
        cost = number(item.plan.cost, item.plan.cost_unit)
        out.write(f"  cost: {cost} {item.plan.cost_unit}")
        out.write(" (EXPLAIN ANALYZE)\n" if item.plan.analyzed else "\n")
        for line in render_tree(item.plan.root):
            out.write("  " + line + "\n")
        if item.note:
            out.write(f"  note: {item.note}\n")
        for problem in item.problems:
            out.write(f"  ! {problem.kind}: {problem.message}\n")
        if not item.problems:
            out.write("  no problem seen in the plan\n")
    _render_skipped(explained, out)
