"""Smoke runs of the scripts in benchmarks/: each runs end to end on a small input; no
timing is asserted, the figures live in benchmarks/RESULTS.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run_json(script: str, *args: str) -> dict[str, Any]:
    """Run ``benchmarks/<script> ARGS``; its JSON output, once it exited 0."""
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data
