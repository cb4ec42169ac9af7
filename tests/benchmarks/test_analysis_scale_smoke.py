"""benchmarks/analysis_scale.py builds its store through the store writer and
measures ``report`` on it, for this tree and a baseline ref.

A smoke test only: ``--quick`` figures are too noisy to judge, so no timing is
asserted (the measured figures live in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "analysis_scale.py"


def test_analysis_scale_quick_measures_both_sides(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--quick",
            "--json",
            "--baseline-ref",
            "HEAD",
            "--store-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert [row["side"] for row in figures["rows"]] == ["baseline (HEAD)", "this tree"]
    for row in figures["rows"]:
        assert row["spans"] >= 20_000 and row["traces"] > 0
        assert row["spans_per_s"] > 0 and row["peak_rss_mb"] > 0
        assert row["cpu_s"] > 0 and row["spans_per_cpu_s"] > 0
    # The store is kept for the next run.
    assert list(tmp_path.glob("analysis-scale-v*-20000.sqlite"))


def test_analysis_scale_parts_times_every_reader(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--parts", "--json", "--store-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)["rows"]
    parts = row["parts_s"]
    # The reading, every detector session and the summaries, each timed apart.
    assert {"reading", "n-plus-one-query", "slow-query", "endpoint statistics"} <= set(parts)
    assert row["spans_per_s"] > 0 and row["cpu_s"] > 0


def test_analysis_scale_measures_a_store_it_is_given(tmp_path: Path) -> None:
    """``--store``: a store captured from a real app, measured as the generated ones."""
    from perfdoctor import store
    from perfdoctor.model import Span, Trace

    path = tmp_path / "app.db"
    conn = store.open_for_writing(path)
    traces = [
        Trace(
            f"t{n}",
            "GET /posts/",
            "http",
            1.0 + n,
            5.0,
            200,
            spans=[
                Span("db", 0.1, 0.2, system="sqlite", statement="SELECT id FROM posts"),
                Span("db", 0.4, 0.2, system="sqlite", statement="SELECT id FROM users"),
            ],
        )
        for n in range(30)
    ]
    store.write_traces(conn, traces)
    conn.close()

    def measured(*more: str) -> dict[str, Any]:
        command = [sys.executable, str(SCRIPT), "--store", str(path), "--runs", "1", "--json"]
        done = subprocess.run([*command, *more], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        [row] = json.loads(done.stdout)["rows"]
        return dict(row)

    row = measured()
    assert (row["traces"], row["spans"]) == (30, 60)
    assert row["cpu_s"] > 0 and row["peak_rss_mb"] > 0
    # --scale: the same traffic three times over, later.
    row = measured("--scale", "3")
    assert (row["traces"], row["spans"]) == (90, 180)
    assert store.count_traces(path) == 30  # the store given is left as it was
    missing = subprocess.run(
        [sys.executable, str(SCRIPT), "--store", str(tmp_path / "none.db")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "no such file" in missing.stderr
