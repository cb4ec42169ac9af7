"""Static meets measured: attach lint findings to runtime findings on the same line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from perfdoctor.lint.engine import LintResult

# "ArticleSerializer.favoritesCount (serializers.py:15)": the line of the serializer
# field a runtime N+1 was loaded by.
_LOADED_BY_LINE = re.compile(r":(\d+)\)$")


def _key(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except OSError:  # pragma: no cover
        return path


def _trigger_places(evidence: dict[str, Any]) -> tuple[list[tuple[str, int]], str | None]:
    """Where a serializer-triggered N+1 comes from: the field's line, and the file
    (for a match on the relation when the field's line is not known)."""
    trigger = evidence.get("trigger")
    if not isinstance(trigger, dict) or not isinstance(trigger.get("path"), str):
        return [], None
    path = _key(trigger["path"])
    match = _LOADED_BY_LINE.search(str(evidence.get("loaded_by") or ""))
    return ([(path, int(match.group(1)))] if match else []), path


def attach(findings: list[Any], result: LintResult) -> int:
    """Add ``evidence["lint"]`` to each runtime finding whose location (or, for a
    query in a loop, the loop's line; for a serializer's, the field's line) is where a
    lint finding points, or whose relation a lint finding in the serializer's file
    names. Returns how many."""
    by_line: dict[tuple[str, int], list[dict[str, Any]]] = {}
    by_relation: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for f in result.findings:
        # "id" as in lint's own JSON; "code" kept: the report's contract (version 1)
        # only ever adds keys.
        entry = {"id": f.code, "code": f.code, "message": f.message, "line": f.line, "col": f.col}
        by_line.setdefault((_key(f.path), f.line), []).append(entry)
        if f.relation:
            by_relation.setdefault((_key(f.path), f.relation), []).append(entry)
    linked = 0
    for finding in findings:
        places: list[tuple[str, int]] = []
        if finding.location is not None:
            places.append((_key(finding.location.path), finding.location.line))
        loop = finding.evidence.get("loop")
        if isinstance(loop, dict) and "path" in loop and "line" in loop:
            places.append((_key(str(loop["path"])), int(loop["line"])))
        fields, trigger_path = _trigger_places(finding.evidence)
        places += fields
        matched = [m for place in places for m in by_line.get(place, [])]
        relation = finding.evidence.get("relation")
        if not matched and trigger_path and isinstance(relation, str):
            matched = by_relation.get((trigger_path, relation), [])
        if matched:
            finding.evidence["lint"] = matched
            linked += 1
    return linked
