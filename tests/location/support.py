"""Run a site's driver under ``perfdoctor run`` and read the report it makes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tests.conftest import report_json, run_perfdoctor

HERE = Path(__file__).parent


def run_site(site: Path, traces: Path, paths: list[str]) -> dict[str, Any]:
    """``perfdoctor run -- python drive.py PATHS`` in ``site``; its JSON report."""
    result = run_perfdoctor(
        "run", "--traces", str(traces), "--", sys.executable, "drive.py", *paths, cwd=site
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return report_json(traces, cwd=site)


def line_of(path: Path, text: str) -> int:
    """The line of ``path`` that contains ``text`` (exactly one must)."""
    lines = [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    assert len(lines) == 1, f"{text!r} is on lines {lines} of {path}"
    return lines[0]


def found(report: dict[str, Any], detector: str, endpoint: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["id"] == detector and f["endpoint"] == endpoint]


def at(site: Path, finding: dict[str, Any]) -> tuple[Path, int]:
    """Where a finding points: the file (resolved) and the line."""
    location = finding["location"]
    assert location is not None, finding
    return (site / location["path"]).resolve(), location["line"]


def line_after(path: Path, start: str, text: str) -> int:
    """The first line containing ``text`` after the line that contains ``start``."""
    lines = path.read_text().splitlines()
    first = line_of(path, start)
    for number in range(first, len(lines) + 1):
        if text in lines[number - 1]:
            return number
    raise AssertionError(f"no {text!r} after {start!r} in {path}")
