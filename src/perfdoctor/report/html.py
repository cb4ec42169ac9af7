"""The HTML report: one self-contained file that opens offline.

Tables and text are rendered by jinja2 (autoescaped); the charts (waterfalls,
time breakdown, latency histograms, before/after) are drawn in the browser by
the vendored Chart.js from a JSON block, both inlined into the page so it needs
no network at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import resources
from typing import Any, TextIO

import jinja2
from markupsafe import Markup, escape

import perfdoctor
from perfdoctor.analysis import timing
from perfdoctor.analysis.analyze import Analysis
from perfdoctor.analysis.budgets import LIMITS
from perfdoctor.analysis.sampling import note as sampling_note
from perfdoctor.model import Finding, Trace, by_endpoint
from perfdoctor.report.chart_data import histogram, script_json
from perfdoctor.report.compare_view import compare_summary, ms
from perfdoctor.report.evidence import PROSE_LABELS, evidence_numbers, evidence_texts, num
from perfdoctor.report.folding import also_on, fold
from perfdoctor.report.waterfall import (
    MAX_WATERFALL_SPANS,
    example_trace,
    highlighted,
    waterfall_data,
)

# What a table shows for a value it does not have (an en dash).


def render(
    analysis: Analysis,
    stream: TextIO,
    *,
    traces: Sequence[Trace] = (),
    compare: dict[str, Any] | None = None,
    store: str | None = None,
) -> None:
    stream.write(render_page(analysis, traces=traces, compare=compare, store=store))


def render_page(
    analysis: Analysis,
    *,
    traces: Sequence[Trace] = (),
    compare: dict[str, Any] | None = None,
    store: str | None = None,
    generated: datetime | None = None,
) -> str:
    by_id = {t.id: t for t in traces}
    groups = by_endpoint(traces)
    findings = []
    charts: dict[str, Any] = {"waterfalls": {}, "histograms": {}}
    for index, cause in enumerate(fold(analysis.findings), start=1):
        finding = cause.finding
        anchor = f"finding-{index}"
        example = example_trace(finding, by_id, groups)
        view = _finding_view(index, anchor, finding)
        # One line of code with one fix on several endpoints: one card, the others named.
        view["also"] = also_on(cause)
        view["also_all"] = cause.other_endpoints()
        if example is not None:
            waterfall = waterfall_data(example, highlighted(finding, example))
            view["waterfall"] = waterfall
            charts["waterfalls"][anchor] = waterfall
        findings.append(view)
    for stats in analysis.endpoints:
        group = groups.get(stats.name)
        if group:
            charts["histograms"][stats.name] = {
                **histogram([timing.latency_ms(t) for t in group]),
                "p95": stats.p95_ms,
            }
    charts["breakdown"] = [
        {
            "name": e.name,
            "db": e.db_ms,
            "http": e.http_ms,
            "cache": e.cache_ms,
            "python": e.python_ms,
        }
        for e in analysis.endpoints
        if not e.summaries_only  # nothing recorded to break down
    ]
    compare_view = compare_summary(compare) if compare is not None else None
    if compare_view is not None:
        charts["compare"] = [
            {
                "name": row["name"],
                "before": row["median"]["before"],
                "after": row["median"]["after"],
            }
            for row in compare_view["endpoints"]
            if row["median"] is not None
        ]
    template = _environment().get_template("report.html.j2")
    return template.render(
        version=perfdoctor.__version__,
        store=store,
        damaged=analysis.damage.line(),
        sampled=sampling_note(analysis.sampled),
        merged=analysis.merged.note() if analysis.merged is not None else None,
        traces=analysis.traces,
        generated=(generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M:%S UTC"),
        detectors=len(analysis.detectors),
        endpoints=analysis.endpoints,
        finding_counts=analysis.findings_per_endpoint(),
        histogram_endpoints=[e.name for e in analysis.endpoints if e.name in groups],
        findings=findings,
        finding_total=len(analysis.findings),
        severities=list(analysis.severity_counts().items()),
        budgets=[_budget_view(row) for row in analysis.budgets],
        hotspots={name: spots for name, spots in analysis.hotspots.items() if spots},
        compare=compare_view,
        max_spans=MAX_WATERFALL_SPANS,
        data_json=script_json(charts),
        css=_asset("report.css"),
        script=_script_asset("report.js"),
        chart_js=_script_asset("vendor/chart.umd.min.js"),
    )


# --- views for the template ---


def _finding_view(index: int, anchor: str, finding: Finding) -> dict[str, Any]:
    loop = finding.evidence.get("loop")
    return {
        "index": index,
        "anchor": anchor,
        "id": finding.id,
        "severity": finding.severity,
        "title": finding.title,
        "endpoint": finding.endpoint,
        "location": str(finding.location) if finding.location else None,
        "function": finding.location.function if finding.location else None,
        "loop": (
            f"{loop['path']}:{loop['line']}" if isinstance(loop, dict) and "path" in loop else None
        ),
        "numbers": evidence_numbers(finding.evidence),
        "texts": evidence_texts(finding.evidence, limit=2000),
        "prose": sorted(PROSE_LABELS),
        "lint": [
            f"{s.get('id', '')} {s.get('message', '')}".strip()
            for s in finding.evidence.get("lint") or ()
            if isinstance(s, dict)
        ],
        "fix": finding.fix,
        "trace_id": finding.trace_id,
        "waterfall": None,
    }


def _budget_view(row: Any) -> dict[str, Any]:
    label, unit = LIMITS.get(row.limit, (row.limit, ""))
    return {
        "endpoint": row.endpoint,
        "limit": label,
        "budget": f"{num(row.budget)} {unit}",
        "measured": None if row.measured is None else f"{num(row.measured)} {unit}",
        "broken": row.broken,
        "explicit": row.explicit,
    }


def breakable(text: str | None) -> Markup:
    """Escaped, with a line-break opportunity after each "/": a long route then wraps
    between its segments rather than in the middle of one."""
    return Markup("/<wbr>").join(escape(part) for part in str(text or "").split("/"))


# --- assets ---


def _templates() -> Any:
    return resources.files("perfdoctor.report").joinpath("templates")


def _asset(name: str) -> str:
    return str(_templates().joinpath(name).read_text(encoding="utf-8"))


def _script_asset(name: str) -> str:
    """A script to inline: one holding "</script" would end its element early."""
    text = _asset(name)
    if "</script" in text.lower() or "<!--" in text:
        raise RuntimeError(f"{name} cannot be inlined in a <script> element")
    return text


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: _asset(name)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ms"] = ms
    env.filters["breakable"] = breakable
    return env
