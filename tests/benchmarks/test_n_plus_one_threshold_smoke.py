"""benchmarks/n_plus_one_threshold.py runs end to end: the table's rules and what
the default one lets through (the figures live in benchmarks/RESULTS.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "n_plus_one_threshold.py"


def test_the_table_scores_every_rule_on_the_labelled_corpus() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = {row["rule"]: row for row in json.loads(result.stdout)}
    assert "repeats >= 5" in rows and "proof rows == n, from 2" in rows
    default = rows["proof rows >= n, from 3"]
    assert 0 < default["recall"] <= 1 and 0 < default["precision"] <= 1
    # Helpers from separate lines, requests in a test, pages: never flagged.
    for row in rows.values():
        assert not any(
            name.startswith(("clean helper", "clean requests", "clean pages"))
            for name in row["noise"]
        ), row
