"""benchmarks/otlp_import.py runs end to end on a small file: no timing asserted,
the figures live in benchmarks/RESULTS.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "otlp_import.py"


def test_quick_run_imports_every_span_of_the_generated_file() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--requests", "12", "--queries", "5", "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["spans"] == 12 * (1 + 5 + 3)
    names = [r["name"] for r in data["results"]]
    assert names == ["floor: json.loads", "OpenTelemetry classes: from_json", "perfdoctor import otlp"]
    assert all(r["median_s"] > 0 for r in data["results"])
