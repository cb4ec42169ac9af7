"""Reports: each format is one renderer module with a ``render(analysis, stream)``."""

from __future__ import annotations

from typing import TextIO

from perfdoctor.analyze import Analysis
from perfdoctor.errors import UsageError


def render(analysis: Analysis, fmt: str, stream: TextIO) -> None:
    if fmt == "json":
        from perfdoctor.report import json_report

        json_report.render(analysis, stream)
    elif fmt == "text":
        from perfdoctor.report import text

        text.render(analysis, stream)
    else:
        raise UsageError(f"unknown report format {fmt!r}: choose text or json")
