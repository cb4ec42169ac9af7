"""A finding's evidence as short labelled pieces, the same in every report format."""

from __future__ import annotations

from typing import Any

# Evidence numbers shown as "label: value", in this order.
_NUMBERS = (
    ("count", "runs per request", "{}"),
    ("runs", "runs seen", "{}"),
    ("total_ms", "time per request", "{:.2f} ms"),
    # N+1: the loop's wall time, first repeated query to last, Python included
    ("loop_ms", "loop time per request", "{:.2f} ms"),
    ("wasted_ms", "wasted per request", "{:.2f} ms"),
    ("p50_ms", "p50", "{:.1f} ms"),
    ("p95_ms", "p95", "{:.1f} ms"),
    ("max_ms", "max", "{:.1f} ms"),
    ("budget_ms", "budget", "{:.0f} ms"),
    ("requests_affected", "requests affected", "{}"),
    # responses and endpoints
    ("items", "items", "{}"),
    ("bytes", "bytes", "{:,}"),
    ("identical_responses", "identical responses", "{}"),
    ("versions_resent", "versions resent", "{}"),
    ("users", "users", "{}"),
    ("cache_control", "cache-control", "{}"),
    ("p99_ms", "p99", "{:.1f} ms"),
    ("db_ms", "db", "{:.1f} ms"),
    ("http_ms", "http", "{:.1f} ms"),
    ("cache_ms", "cache", "{:.1f} ms"),
    ("python_ms", "python", "{:.1f} ms"),
    # slow-endpoint: the request thread's CPU time, against the wall time above
    ("cpu_p50_ms", "cpu p50", "{:.1f} ms"),
    ("deferrable_ms", "deferrable", "{:.0f} ms"),
    ("share", "share", "{:.0%}"),
    ("peak_kb", "peak", "{:,} KB"),
    ("budget_kb", "budget", "{:,} KB"),
    # caches
    ("writes", "writes", "{}"),
    ("distinct_keys", "keys", "{}"),
    ("total_ms_all_requests", "time in all requests", "{:.1f} ms"),
    ("suggested_ttl_s", "suggested TTL", "{} s"),
    # database
    ("rows", "rows fetched", "{:,}"),
    # unused-eager-load
    ("related_rows", "related rows loaded", "{:,}"),
    ("extra_queries", "extra queries", "{}"),
    ("offset", "offset", "{:,}"),
    ("queries", "queries in a row", "{}"),
    ("connections_per_request", "connections per request", "{}"),
    ("connect_ms", "per connection", "{:.2f} ms"),
    ("response_bytes", "response", "{:,} bytes"),
)
_STATEMENTS = (("statement", "query"), ("parent_statement", "loop over rows of"))
# The labels of evidence_texts that hold SQL (for highlighting).
SQL_LABELS = frozenset(label for _, label in _STATEMENTS)
# The label of each other query of an N+1 sequence: "query 2 of 3 per row at views.py:14".
_STEP = "query {n} of {of} per row"


# The labels of evidence_texts that are sentences to read, not code to look at.
PROSE_LABELS = frozenset(("machine busy", "waiting", "seldom"))


def is_prose(label: str) -> bool:
    """Whether the text under ``label`` is a sentence (shown as text, not as code)."""
    return label in PROSE_LABELS


def is_sql(label: str) -> bool:
    """Whether the text under ``label`` is SQL."""
    return label in SQL_LABELS or (label.startswith("query ") and " per row" in label)


# The mean over a merged finding's requests is shown beside the example's value
# only when they differ by more than this share: within it, one number reads as
# well and every time shown twice is noise (the demo's findings were all doubled).
_MEAN_SHOWN_FROM = 0.25


def _far_apart(mean: float, value: float) -> bool:
    larger = max(abs(mean), abs(value))
    return larger > 0 and abs(mean - value) > _MEAN_SHOWN_FROM * larger


def evidence_numbers(evidence: dict[str, Any]) -> list[str]:
    """The numbers of the evidence, each as "label: value"."""
    shown = []
    sequence = evidence.get("sequence")
    if isinstance(sequence, dict) and sequence.get("steps"):
        # One query of an N+1 sequence: the loop runs all of them per row.
        shown.append(
            f"query {sequence.get('position')} of {len(sequence['steps'])} per row "
            f"(sequence {sequence.get('id')})"
        )
        shown.append(f"rows looped over: {sequence.get('repeats')}")
    means = evidence.get("mean_ms")
    means = means if isinstance(means, dict) else {}
    for key, label, fmt in _NUMBERS:
        value = evidence.get(key)
        if value is None:
            continue
        mean = means.get(key)
        if isinstance(mean, (int, float)) and _far_apart(mean, value):
            # Merged over its requests: the request shown is the costliest of them,
            # which is not always the one with the highest of every number.
            shown.append(
                f"{label}: {fmt.format(mean)} mean, {fmt.format(value)} in the request shown"
            )
        else:
            shown.append(f"{label}: {fmt.format(value)}")
    return shown


def evidence_texts(evidence: dict[str, Any], limit: int = 400) -> list[tuple[str, str]]:
    """A busy machine, statements, allocation sites (high-memory), off-CPU waits
    and outbound calls (background-job-candidate), each as (label, text cut at ``limit``)."""
    texts = []
    # a sampled capture: how many requests the counts below are out of
    sampled = evidence.get("sampled")
    if sampled:
        texts.append(("sampled", str(sampled)))
    # n-plus-one-query: in few of its endpoint's requests
    seldom = evidence.get("seldom")
    if seldom:
        texts.append(("seldom", shorten(str(seldom), limit)))
    # slow-endpoint, slow-query: the caveat that comes before any other evidence
    busy = evidence.get("busy_machine")
    if busy:
        texts.append(("machine busy", shorten(str(busy), limit)))
    for key, label in _STATEMENTS:
        value = evidence.get(key)
        if value:
            texts.append((label, shorten(str(value), limit)))
    texts.extend(_sequence_steps(evidence.get("sequence"), limit))
    trigger = evidence.get("loaded_by")
    if trigger:
        # n-plus-one-query: the serializer field or template line that loads each row
        texts.append(("loaded by", shorten(str(trigger), limit)))
    copies = evidence.get("sites")
    located = [s for s in copies if "path" in s] if isinstance(copies, list) else []
    if located:
        # duplicate-query: every line that ran the statement, with its runs
        texts.append(("ran at", shorten(", ".join(_site_text(s) for s in located), limit)))
    sites = evidence.get("top")
    if isinstance(sites, list) and sites:
        texts.append(
            (
                "allocated at",
                ", ".join(
                    f"{s['path']}:{s['line']} ({s['kb']:,} KB)" for s in sites if "path" in s
                ),
            )
        )
    waiting = evidence.get("off_cpu")
    if waiting:
        # slow-endpoint: wall time that neither a span nor the CPU accounts for
        texts.append(("waiting", shorten(str(waiting), limit)))
    calls = evidence.get("calls")
    if isinstance(calls, list) and calls:
        texts.append(("calls", shorten(", ".join(str(c) for c in calls), limit)))
    if "cost_before" in evidence and evidence.get("method"):
        # missing-index: how the cost with the index was found
        label = "verified by" if evidence.get("verified") else "not verified"
        texts.append((label, str(evidence["method"])))
    also_on = evidence.get("also_on")
    if isinstance(also_on, list) and also_on:
        # no-connection-reuse: one cause (a setting, a line) behind several endpoints
        texts.append(
            (
                "also on",
                shorten(
                    ", ".join(
                        f"{e.get('endpoint')} ({e.get('requests_with_connect')} of "
                        f"{e.get('requests')})"
                        for e in also_on
                        if isinstance(e, dict)
                    ),
                    limit,
                ),
            )
        )
    helps = evidence.get("also_helps")
    if isinstance(helps, list) and helps:
        texts.append(("also helps", shorten(", ".join(str(h) for h in helps), limit)))
    return texts


def _sequence_steps(sequence: Any, limit: int) -> list[tuple[str, str]]:
    """The other queries of an N+1 sequence (the finding's own is its statement)."""
    if not isinstance(sequence, dict):
        return []
    steps = sequence.get("steps") or []
    texts = []
    for n, step in enumerate(steps, start=1):
        if n == sequence.get("position") or not step.get("statement"):
            continue
        where = f" at {step['path']}:{step['line']}" if step.get("path") else ""
        label = _STEP.format(n=n, of=len(steps)) + where
        texts.append((label, shorten(str(step["statement"]), limit)))
    return texts


def _site_text(site: dict[str, Any]) -> str:
    runs = site.get("count", 1)
    return f"{site['path']}:{site['line']} ({runs} run{'' if runs == 1 else 's'})"


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def num(value: float) -> str:
    """A budget or a measure: whole numbers and anything from 100 up without decimals."""
    return f"{value:.0f}" if value == int(value) or value >= 100 else f"{value:.1f}"
