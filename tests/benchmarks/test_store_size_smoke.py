"""benchmarks/store_size.py runs end to end and accounts for every span it captured
(a smoke run: the figures live in benchmarks/RESULTS.md)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "store_size.py"


def test_a_quick_run_measures_the_orm_store(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", "--keep", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    orm = json.loads(result.stdout)["workloads"]["orm"]
    assert orm["schema"] == 4 and orm["traces"] == 30
    # Pages of 9 and 59 with their lazy loads (a query each, naming its relation).
    assert orm["spans"] > 10 * (1 + 9) + 10 * (1 + 59)
    with sqlite3.connect(tmp_path / "orm.db") as db:
        assert orm["spans"] == db.execute("SELECT count(*) FROM spans").fetchone()[0]
    assert orm["file_bytes"] >= orm["traces_table_bytes"] > 0
    assert orm["span_fields"]["spans: params_digest"] > 0
    assert set(json.loads(result.stdout)["reading"]) >= {"report_cpu_s", "load_cpu_s"}
