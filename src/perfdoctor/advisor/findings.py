"""Kept indexes as ``missing-index`` findings on the endpoints whose queries they help."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from pathlib import Path

from perfdoctor.advisor.advisor import Advice, advise
from perfdoctor.advisor.locks import LocksNeeded
from perfdoctor.advisor.output import migrations
from perfdoctor.advisor.plans import number
from perfdoctor.advisor.queries import from_traces
from perfdoctor.advisor.verify import describe
from perfdoctor.analysis.analyze import Analysis, impact_ms
from perfdoctor.callsite import display_path
from perfdoctor.model import SEVERITY_RANK, Finding
from perfdoctor.progress import SILENT, Feedback
from perfdoctor.settings import Settings

DETECTOR_ID = "missing-index"


def missing_index_findings(advice: Advice) -> list[Finding]:
    found: list[Finding] = []
    for rec in advice.recommendations:
        fix = migrations(advice.dialect, rec.candidate)
        info = describe(rec.method)
        unit = rec.cost_unit
        for helped in rec.helps:
            query = helped.query
            targets: list[str | None] = list(query.endpoints) or [None]
            for endpoint in targets:
                saving = 100 * (1 - helped.after / helped.before) if helped.before else 0.0
                key = f"{DETECTOR_ID}|{rec.candidate.label}|{endpoint}|{query.sql}"
                found.append(
                    Finding(
                        id=DETECTOR_ID,
                        severity="warning",
                        title=(
                            f"Missing index {rec.candidate.label}: query cost "
                            f"{number(helped.before, unit)} -> {number(helped.after, unit)} "
                            f"{unit} ({saving:.0f}% lower) with it"
                        ),
                        endpoint=endpoint,
                        location=query.locations.get(endpoint) if endpoint else None,
                        evidence={
                            "table": rec.candidate.table,
                            "columns": list(rec.candidate.columns),
                            "statement": query.sql,
                            # Not calls/total_ms/rows: reports read those as per-request figures.
                            "query_calls": query.calls,
                            "query_total_ms": round(query.total_ms, 2),
                            "table_rows": rec.rows,
                            "cost_before": round(helped.before, 2),
                            "cost_after": round(helped.after, 2),
                            "cost_unit": rec.cost_unit,
                            **info,
                        },
                        fix=(
                            f"Add the index: {fix['sql']}\n"
                            f"Django (Meta.indexes): {fix['django']}\n"
                            f"Alembic: {fix['alembic']}"
                        ),
                        fingerprint=hashlib.blake2b(key.encode(), digest_size=8).hexdigest(),
                    )
                )
    return found


def for_traces(
    url: str, traces: Path, settings: Settings, progress: Feedback = SILENT
) -> list[Finding]:
    queries = from_traces(traces, _dialect(url), settings.advisor_max_queries)
    if not queries:
        return []
    return missing_index_findings(advise(url, queries, settings, progress=progress))


def _dialect(url: str) -> str:
    from perfdoctor.advisor.connection import parse_url

    return parse_url(url).dialect


def one_per_index(found: list[Finding]) -> list[Finding]:
    """One finding per proposed index, on the endpoint whose query it saves the most
    work (cost saved per run, times the runs seen); the other endpoints it helps are
    named in ``evidence["also_helps"]`` (the demo's audit, where one index helps a
    dozen endpoint and query pairs)."""
    by_index: dict[str, list[Finding]] = {}
    for finding in found:
        key = f"{finding.evidence['table']}({', '.join(finding.evidence['columns'])})"
        by_index.setdefault(key, []).append(finding)
    kept = []
    for group in by_index.values():
        best = max(group, key=_saved)
        others = sorted({f.endpoint for f in group if f.endpoint and f.endpoint != best.endpoint})
        if others:
            best.evidence["also_helps"] = others
        kept.append(best)
    return kept


def _saved(finding: Finding) -> float:
    evidence = finding.evidence
    saved = float(evidence["cost_before"]) - float(evidence["cost_after"])
    return saved * int(evidence.get("query_calls") or 1)


def add_to(
    analysis: Analysis,
    url: str,
    traces: Path,
    settings: Settings,
    progress: Feedback = SILENT,
    per_index: bool = False,
) -> None:
    """``perfdoctor report --db URL``: the advisor's findings ranked with the detectors'.
    ``per_index``: one finding per index (:func:`one_per_index`).

    Where proving an index would lock the user's tables, the report goes on without
    missing-index findings and says on stderr how to get them."""
    try:
        extra = for_traces(url, traces, settings, progress)
        if per_index:
            extra = one_per_index(extra)
    except LocksNeeded as exc:
        other = f", or {exc.remedy}" if exc.remedy else ""
        print(
            f"perfdoctor: missing-index not checked: {exc.what}. To check: perfdoctor "
            f"indexes --db URL --traces {traces} --allow-locks{other}",
            file=sys.stderr,
        )
        return
    for finding in extra:
        if finding.location is not None:
            finding.location = dataclasses.replace(
                finding.location, path=display_path(finding.location.path)
            )
    analysis.findings.extend(extra)
    analysis.findings.sort(
        key=lambda f: (-SEVERITY_RANK[f.severity], -impact_ms(f), f.id, f.endpoint or "")
    )
    analysis.detectors.append(DETECTOR_ID)
