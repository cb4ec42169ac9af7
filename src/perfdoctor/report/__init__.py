"""Reports: each format is one renderer module.

text and json need only the analysis; html draws from the traces too (waterfalls,
histograms), and html and markdown show a ``perfdoctor compare --format json``
result as before/after when given one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

from perfdoctor.analysis.analyze import Analysis
from perfdoctor.errors import UsageError
from perfdoctor.model import Trace

FORMATS = ("text", "json", "html", "markdown", "sarif")


def render(
    analysis: Analysis,
    fmt: str,
    stream: TextIO,
    *,
    traces: Sequence[Trace] = (),
    compare: dict[str, Any] | None = None,
    store: str | None = None,
    verbose: bool = False,
) -> None:
    if fmt == "json":
        from perfdoctor.report import json_report

        json_report.render(analysis, stream)
    elif fmt == "text":
        from perfdoctor.report import text

        text.render(analysis, stream, verbose=verbose)
    elif fmt == "html":
        from perfdoctor.report import html

        html.render(analysis, stream, traces=traces, compare=compare, store=store)
    elif fmt == "markdown":
        from perfdoctor.report import markdown

        markdown.render(analysis, stream, compare=compare)
    elif fmt == "sarif":
        from perfdoctor.report import sarif

        sarif.render(analysis, stream)
    else:
        raise UsageError(f"unknown report format {fmt!r}: choose one of {', '.join(FORMATS)}")
