"""A waterfall of one request that shows a finding: which request, which of its
spans make up the problem, and each span as a labelled [start, end] bar."""

from __future__ import annotations

import os
import re
from typing import Any

from perfdoctor.analysis import timing
from perfdoctor.callsite import display_path
from perfdoctor.model import Finding, Location, Span, Trace
from perfdoctor.report.evidence import shorten

# Bars drawn in one waterfall: past a few hundred rows a chart is neither readable
# nor quick to draw, and a trace can hold thousands of spans.
MAX_WATERFALL_SPANS = 100
# Characters of a statement or URL in a waterfall bar's label (the tooltip has more).
LABEL_CHARS = 60
TOOLTIP_CHARS = 300

_CALL_SITE = re.compile(r" at (?P<path>\S+):(?P<line>\d+)\b")


def _frames(span: Span) -> list[Location]:
    return ([span.location] if span.location else []) + list(span.stack)


def _at_frame(frame: Location, path: str, line: int) -> bool:
    """Whether ``frame`` is ``path:line``, ``path`` as findings show it: relative to
    the working directory when under it (a suffix of the absolute path a span holds;
    cheaper than making every frame of every request relative)."""
    if frame.line != line:
        return False
    return frame.path == path or (not os.path.isabs(path) and frame.path.endswith(os.sep + path))


def _at(span: Span, path: str, line: int) -> bool:
    return any(_at_frame(frame, path, line) for frame in _frames(span))


def example_trace(
    finding: Finding, by_id: dict[str, Trace], groups: dict[str, list[Trace]]
) -> Trace | None:
    """The detector's own example when it named one; else a request of the finding's
    endpoint with a span at the finding's location; else that endpoint's slowest."""
    if finding.trace_id is not None and finding.trace_id in by_id:
        return by_id[finding.trace_id]
    group = groups.get(finding.endpoint or "")
    if not group:
        return None
    if finding.location is not None:
        path, line = finding.location.path, finding.location.line
        located = [t for t in group if any(_at(s, path, line) for s in t.spans)]
        if located:
            return max(located, key=timing.latency_ms)
    return max(group, key=timing.latency_ms)


def _kind_hint(finding: Finding) -> str | None:
    """The span kind a finding is about, when its id says so."""
    if "http" in finding.id or "external" in finding.id:
        return "http"
    if finding.id.startswith("cache"):
        return "cache"
    if "query" in finding.id or "db" in finding.id or "connection" in finding.id:
        return "db"
    return None


def _site(text: str) -> tuple[str, int] | None:
    path, _, line = text.rpartition(":")
    return (path, int(line)) if path and line.isdigit() else None


def highlighted(finding: Finding, trace: Trace) -> set[int]:
    """Indexes of the spans of ``trace`` that make up the problem.

    What the evidence names, most precise first: its statements (every span of
    their fingerprint: the repeats of an N+1), URL, cache key, blocking calls, call
    sites; failing those, the spans at the finding's own line, then the spans
    called through it.  Empty when the problem is the request as a whole.
    """
    evidence = finding.evidence
    spans = trace.spans
    marked: set[int] = set()
    statements = {
        text
        for text in [evidence.get("statement"), *(_list(evidence.get("statements")))]
        if isinstance(text, str) and text
    }
    if statements:
        prints = {s.fingerprint for s in spans if s.statement in statements and s.fingerprint}
        marked |= {
            i
            for i, s in enumerate(spans)
            if s.statement in statements or (s.fingerprint is not None and s.fingerprint in prints)
        }
    url = evidence.get("url")
    if isinstance(url, str) and url:
        marked |= {i for i, s in enumerate(spans) if s.kind == "http" and s.attrs.get("url") == url}
    key = evidence.get("key")
    if isinstance(key, str) and key:
        marked |= {
            i for i, s in enumerate(spans) if s.kind == "cache" and s.attrs.get("key") == key
        }
    if finding.id == "blocking-in-async":
        marked |= {i for i, s in enumerate(spans) if s.attrs.get("blocks_event_loop")}
    sites = []
    for call in _list(evidence.get("calls")):
        match = _CALL_SITE.search(str(call))
        if match:
            sites.append((match["path"], int(match["line"])))
    sites += [site for text in _list(evidence.get("locations")) if (site := _site(str(text)))]
    for path, line in sites:
        marked |= {
            i for i, s in enumerate(spans) if s.location and _at_frame(s.location, path, line)
        }
    if marked or finding.location is None:
        return marked
    hint = _kind_hint(finding)
    path, line = finding.location.path, finding.location.line
    of_kind = [(i, s) for i, s in enumerate(spans) if hint is None or s.kind.split(".")[0] == hint]
    direct = {i for i, s in of_kind if s.location and _at_frame(s.location, path, line)}
    return direct or {i for i, s in of_kind if _at(s, path, line)}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _short(text: str, limit: int) -> str:
    return shorten(" ".join(text.split()), limit)


def short_statement(statement: str) -> str:
    """A SELECT with its column list elided: ``SELECT … FROM tags WHERE …``, so the
    table it reads is in the few characters a bar's label has."""
    text = " ".join(statement.split())
    if not text[:7].upper().startswith("SELECT "):
        return text
    depth = 0
    upper = text.upper()
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and upper.startswith(" FROM ", i):
            return f"SELECT … {text[i + 1 :]}" if i > len("SELECT *") else text
    return text


def span_label(span: Span, limit: int = LABEL_CHARS) -> str:
    """What a span did, in a few words: its statement, URL or cache key."""
    attrs = span.attrs
    if span.kind == "db" and span.statement:
        return _short(short_statement(span.statement) if limit < 100 else span.statement, limit)
    if span.kind == "db.connect":
        return f"connect {span.system or ''}".strip()
    if span.kind == "http":
        status = attrs.get("status")
        text = f"{attrs.get('method') or ''} {attrs.get('url') or attrs.get('host') or ''}"
        if status is not None:
            text += f" → {status}"
        elif attrs.get("error"):
            text += f" ✗ {attrs['error']}"
        return _short(text.strip(), limit)
    if span.kind == "cache":
        op = attrs.get("op") or ""
        key = attrs.get("key") or ""
        if op == "pipeline":
            key = f"{attrs.get('commands', '?')} commands"
        return _short(f"{op} {key}".strip(), limit)
    if span.kind == "job.enqueue":
        queue = attrs.get("queue")
        text = f"enqueue {attrs.get('task') or span.system or ''}"
        return _short(f"{text} → {queue}" if queue else text, limit)
    return _short(span.statement or span.system or span.kind, limit)


def _pick(spans: list[Span], marked: set[int], cap: int) -> list[int]:
    """At most ``cap`` span indexes to draw: the highlighted ones first (in start
    order), then the longest of the rest, shown again in start order."""
    if len(spans) <= cap:
        return list(range(len(spans)))
    chosen = sorted(marked, key=lambda i: (spans[i].start_ms, i))[:cap]
    if len(chosen) < cap:
        rest = sorted(
            (i for i in range(len(spans)) if i not in marked),
            key=lambda i: (-spans[i].duration_ms, i),
        )
        chosen += rest[: cap - len(chosen)]
    return sorted(chosen, key=lambda i: (spans[i].start_ms, i))


def waterfall_data(
    trace: Trace, marked: set[int], cap: int = MAX_WATERFALL_SPANS
) -> dict[str, Any]:
    """One request's spans as [start, end] bars, the problem's spans flagged."""
    order = sorted(range(len(trace.spans)), key=lambda i: (trace.spans[i].start_ms, i))
    ranked = [trace.spans[i] for i in order]
    position = {old: new for new, old in enumerate(order)}
    marked_ranked = {position[i] for i in marked if i in position}
    shown = _pick(ranked, marked_ranked, cap)
    rows = []
    for i in shown:
        span = ranked[i]
        location = span.location and f"{display_path(span.location.path)}:{span.location.line}"
        rows.append(
            {
                "kind": span.kind,
                "label": span_label(span),
                "detail": span_label(span, TOOLTIP_CHARS),
                "start": round(span.start_ms, 3),
                "end": round(max(span.end_ms, span.start_ms), 3),
                "ms": round(span.duration_ms, 3),
                "at": location,
                "hit": i in marked_ranked,
            }
        )
    end = max([trace.duration_ms, *(s.end_ms for s in trace.spans)], default=0.0)
    return {
        "trace": trace.id,
        "name": trace.name,
        "duration": round(trace.duration_ms, 3),
        "latency": round(timing.latency_ms(trace), 3),
        "end": round(end, 3),
        "spans": rows,
        "total": len(trace.spans),
        "highlighted": len(marked_ranked),
        "highlighted_shown": sum(1 for r in rows if r["hit"]),
        # The legend names only the kinds drawn, not highlighted (they are red).
        "kinds": sorted({r["kind"] for r in rows if not r["hit"]}),
    }
