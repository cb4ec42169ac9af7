"""Static meets measured: attach lint findings to runtime findings on the same line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perfdoctor.lint.engine import LintResult


def _key(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except OSError:  # pragma: no cover
        return path


def attach(findings: list[Any], result: LintResult) -> int:
    """Add ``evidence["lint"]`` to each runtime finding whose location (or, for a
    query in a loop, the loop's line) is where a lint finding points. Returns how many."""
    by_line: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for f in result.findings:
        by_line.setdefault((_key(f.path), f.line), []).append(
            # "id" as in lint's own JSON; "code" kept: the report's contract (version 1)
            # only ever adds keys.
            {"id": f.code, "code": f.code, "message": f.message, "line": f.line, "col": f.col}
        )
    linked = 0
    for finding in findings:
        places: list[tuple[str, int]] = []
        if finding.location is not None:
            places.append((_key(finding.location.path), finding.location.line))
        loop = finding.evidence.get("loop")
        if isinstance(loop, dict) and "path" in loop and "line" in loop:
            places.append((_key(str(loop["path"])), int(loop["line"])))
        matched = [m for place in places for m in by_line.get(place, [])]
        if matched:
            finding.evidence["lint"] = matched
            linked += 1
    return linked
