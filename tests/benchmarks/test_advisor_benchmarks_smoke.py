"""The advisor benchmarks run end to end (SQLite only, a quick run): no timing asserted,
the figures live in benchmarks/RESULTS.md."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(*args: str) -> list[dict[str, object]]:
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    data: list[dict[str, object]] = json.loads(result.stdout)
    return data


def test_speedup_quick_on_sqlite(tmp_path: Path) -> None:
    [result] = _run(
        str(BENCHMARKS / "advisor_speedup.py"),
        "--dbs",
        "sqlite",
        "--quick",
        "--json",
        "--tmp",
        str(tmp_path),
    )
    assert len(result["applied"]) == 2  # type: ignore[arg-type]
    assert len(result["queries"]) == 5  # type: ignore[arg-type]


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="needs the sqlite3 shell")
def test_versus_sqlite_expert() -> None:
    rows = _run(str(BENCHMARKS / "advisor_vs_sqlite_expert.py"), "--json")
    assert len(rows) == 9
    assert {r["verdict"] for r in rows} <= {"agree", "same leading column", "differ"}
    assert rows[0]["verdict"] == "agree"
