"""high-memory: a request whose allocations peaked over the memory budget (``--memory``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from perfdoctor.callsite import display_path
from perfdoctor.detectors import register
from perfdoctor.detectors._responses import handler
from perfdoctor.detectors.base import PerTraceDetector, finding_fingerprint
from perfdoctor.model import Finding, Location, Severity, Span, Trace
from perfdoctor.settings import Settings

ORM_FIXES = {
    "django": (
        "Iterate the queryset with .iterator(chunk_size=2000) instead of building a list, "
        "fetch only the columns used (.values_list / .only), and paginate list responses."
    ),
    "sqlalchemy": (
        "Stream the rows: session.execute(select(...).execution_options(yield_per=1000)) "
        "or .partitions(), select only the columns used, and paginate list responses."
    ),
}
GENERAL = (
    "Do not hold the whole result in memory: process it in chunks (a generator, a "
    "streaming response, the ORM's .iterator() / yield_per), write large outputs to a file "
    "or stream them, and paginate list responses."
)


def _memory(trace: Trace) -> dict[str, Any] | None:
    facts = trace.attrs.get("memory")
    if isinstance(facts, dict) and isinstance(facts.get("peak_kb"), (int, float)):
        return facts
    return None


def _orm(spans: Iterable[Span]) -> str | None:
    for span in spans:
        if span.kind == "db" and span.framework in ORM_FIXES:
            return span.framework
    return None


@register
class HighMemory(PerTraceDetector):
    id = "high-memory"
    description = "a request whose memory peak is over the budget (with --memory)"

    def visit(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        facts = _memory(trace)
        if facts is None or trace.kind == "server":
            return []
        peak_kb = float(facts["peak_kb"])
        if peak_kb < settings.high_memory_warning_kb:
            return []
        severity: Severity = "error" if peak_kb >= settings.high_memory_error_kb else "warning"
        budget_kb = (
            settings.high_memory_error_kb
            if severity == "error"
            else settings.high_memory_warning_kb
        )
        sites = [s for s in facts.get("top") or [] if isinstance(s, dict) and "path" in s]
        view = handler([trace])
        location = view
        if sites:
            path, line = str(sites[0]["path"]), int(sites[0]["line"])
            function = view.function if view is not None and view.path == path else ""
            location = Location(path, line, function)
        top = [
            {"path": display_path(str(s["path"])), "line": int(s["line"]), "kb": int(s["kb"])}
            for s in sites
        ]
        orm = _orm(trace.spans)
        return [
            Finding(
                id=self.id,
                severity=severity,
                title=(
                    f"{trace.name} allocated {peak_kb / 1024:.0f} MB at its peak "
                    f"(budget {settings.high_memory_error_kb / 1024:.0f} MB per request)"
                ),
                endpoint=trace.name,
                location=location,
                evidence={
                    "peak_kb": int(peak_kb),
                    "budget_kb": budget_kb,
                    "top": top,
                },
                fix=ORM_FIXES.get(orm or "", GENERAL) if orm else GENERAL,
                fingerprint=finding_fingerprint(
                    self.id, trace.name, location.path if location else None
                ),
            )
        ]
