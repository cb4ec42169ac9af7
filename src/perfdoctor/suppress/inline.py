"""``# perfdoctor: ignore[n-plus-one-query]`` on the line a finding points at.

The comment goes on the finding's call-site line, or for an N+1 on the line of
the loop (``for post in posts:  # perfdoctor: ignore[n-plus-one-query]``).  A bare
``# perfdoctor: ignore`` silences every finding there; several ids are separated
by commas.  Sources are read when the report is made, never while capturing, and
each file once.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

from perfdoctor.model import Finding

_COMMENT = re.compile(r"#\s*perfdoctor:\s*ignore\b(?:\[([^\]]*)\])?")


class Sources:
    """Lines of the files findings point at, read once each."""

    def __init__(self) -> None:
        self._lines: dict[str, list[str] | None] = {}

    def line(self, path: str, number: int) -> str:
        if path not in self._lines:
            try:
                text = Path(path).read_text(encoding="utf-8", errors="replace")
                self._lines[path] = text.splitlines()
            except OSError:  # a file of another machine, or gone since the capture
                self._lines[path] = None
        lines = self._lines[path]
        if lines is None or not 1 <= number <= len(lines):
            return ""
        return lines[number - 1]


def ignored_ids(line: str) -> list[str] | None:
    """The ids a line's comment ignores: ``["*"]`` for a bare one, None without one."""
    match = _COMMENT.search(line)
    if match is None:
        return None
    if match.group(1) is None:
        return ["*"]
    return [part.strip() for part in match.group(1).split(",") if part.strip()] or ["*"]


def _places(finding: Finding) -> list[tuple[str, int]]:
    places = []
    if finding.location is not None:
        places.append((finding.location.path, finding.location.line))
    loop: Any = finding.evidence.get("loop")
    if isinstance(loop, dict) and isinstance(loop.get("path"), str):
        line = loop.get("line")
        if isinstance(line, int):
            places.append((loop["path"], line))
    return places


def silenced(finding: Finding, sources: Sources) -> bool:
    """Whether a comment on the finding's line (or its loop's) ignores it."""
    for path, number in _places(finding):
        ids = ignored_ids(sources.line(path, number))
        if ids and any(fnmatch.fnmatchcase(finding.id, wanted) for wanted in ids):
            return True
    return False
