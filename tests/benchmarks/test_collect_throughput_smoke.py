"""benchmarks/collect_throughput.py runs end to end on a few requests: no timing
asserted, the figures live in benchmarks/RESULTS.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "collect_throughput.py"


def test_quick_run_stores_every_trace_in_both_encodings() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--requests", "12", "--queries", "5", "--clients", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["spans"] == 12 * (1 + 5 + 3)
    assert [r["encoding"] for r in data["results"]] == [
        "application/x-protobuf",
        "application/json",
    ]
    for r in data["results"]:
        assert f"received {data['spans']} spans" in r["receiver_said"]
        assert "wrote 12 traces" in r["receiver_said"]
