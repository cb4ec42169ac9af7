"""benchmarks/bench_driver.py runs end to end and reports every figure.

A smoke test only: ``--quick`` figures are too noisy to judge, so no timing is
asserted (the measured figures live in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_driver.py"


def test_bench_driver_quick_reports_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    for key in (
        "direct_us",
        "driver_us",
        "driver_cost_us",
        "bench_with_capture_us",
        "builtin_http_rps",
        "locust_http_rps",
    ):
        assert figures[key] > 0 or key == "driver_cost_us"
