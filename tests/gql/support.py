"""Run a GraphQL app under ``perfdoctor run`` and read what the report says of it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def app_env(database: Path) -> dict[str, str]:
    return {**os.environ, "GQL_DATABASE": str(database)}


def line_of(path: Path, text: str) -> int:
    """The line of ``path`` that contains ``text`` (exactly one must)."""
    lines = [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    assert len(lines) == 1, f"{text!r} is on lines {lines} of {path}"
    return lines[0]


def n_plus_ones(report: dict[str, Any], endpoint: str) -> list[dict[str, Any]]:
    return [
        f for f in report["findings"]
        if f["id"] == "n-plus-one-query" and f["endpoint"] == endpoint
    ]


def at(cwd: Path, finding: dict[str, Any]) -> tuple[Path, int, str]:
    """Where a finding points: the file (resolved), the line and the function."""
    location = finding["location"]
    assert location is not None, finding
    return (cwd / location["path"]).resolve(), location["line"], location["function"]


def endpoint_names(report: dict[str, Any]) -> set[str]:
    return {e["name"] for e in report["endpoints"]}
