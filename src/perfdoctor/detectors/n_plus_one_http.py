"""n-plus-one-http: one external endpoint called again and again from one line."""

from __future__ import annotations

from collections.abc import Iterable

from perfdoctor.detectors import register
from perfdoctor.detectors._http import is_async, library_fix, n_plus_one_http_groups
from perfdoctor.detectors._loops import loop_for_stack
from perfdoctor.detectors.base import PerTraceDetector, finding_fingerprint
from perfdoctor.model import Finding, Severity, Trace
from perfdoctor.settings import Settings


@register
class NPlusOneHttp(PerTraceDetector):
    id = "n-plus-one-http"
    description = "the same external endpoint called one call at a time from one call site"

    def visit(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        for group in n_plus_one_http_groups(trace, settings):
            first = group.first
            method, url = str(first.attrs.get("method")), str(first.attrs.get("url"))
            count = len(group.spans)
            loop = loop_for_stack(first.stack)
            severity: Severity = (
                "error" if count >= settings.n_plus_one_http_error_repeats else "warning"
            )
            distinct = len({s.attrs.get("url_digest") for s in group.spans})
            yield Finding(
                id=self.id,
                severity=severity,
                title=f"N+1 HTTP calls: {count} calls to {method} {url}, one at a time",
                endpoint=trace.name,
                location=first.location,
                evidence={
                    "count": count,
                    "total_ms": round(group.total_ms, 3),
                    "method": method,
                    "url": url,
                    "distinct_urls": distinct,
                    "loop": loop.to_dict() if loop else None,
                    "system": first.system,
                },
                fix=(
                    "Ask for all of them at once if the API has a batch or list endpoint "
                    "(one call with every id); otherwise "
                    + library_fix(first.system, asynchronous=is_async(first))
                    + "; and cache answers that do not change between requests."
                ),
                fingerprint=finding_fingerprint(self.id, trace.name, method, url, first.location),
            )
