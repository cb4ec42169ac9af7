"""benchmarks/app_overhead.py serves both list apps bare and under `perfdoctor run`
(gunicorn + Django/DRF, uvicorn + FastAPI/SQLAlchemy) and reads back what was stored.

A smoke test only: no timing is asserted (the figures live in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "app_overhead.py"


def test_every_request_of_both_apps_is_stored_with_its_queries() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--rounds", "2", "--requests", "3", "--warmup", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert [r["app"] for r in summary["results"]] == ["django", "fastapi"]
    for result in summary["results"]:
        bare, traced = result["sides"]
        assert (bare["side"], traced["side"]) == ("bare", "perfdoctor")
        assert bare["p50_ms"] > 0 and traced["p50_ms"] > 0
        assert len(traced["round_medians_ms"]) == 2
        assert "overhead_pct" not in bare
        # The readiness probe, 2 warm-up and 2 rounds of 3 requests, each stored
        # whole: the list query and one per author (Django's DRF view adds a few).
        stored = traced["stored"]
        assert stored["requests"] == 1 + 2 + 2 * 3, stored
        assert all(40 <= n <= 45 for n in stored["db_spans_per_request"]), stored


def test_an_app_of_ones_own_served_by_its_command(tmp_path: Path) -> None:
    # The Django list app, served by a command as a user's app would be (--serve),
    # with a sampled side: the command, its folder, its interpreter and its pages.
    apps = SCRIPT.parent / "apps"
    db = tmp_path / "app.db"
    seeded = subprocess.run(
        [sys.executable, str(apps / "list_django.py"), "seed"],
        env={**os.environ, "BENCH_DB": str(db)}, capture_output=True, text=True, timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr
    serve = f"{sys.executable} -m gunicorn -w 1 -b 127.0.0.1:{{port}} list_django:application"
    done = subprocess.run(
        [
            sys.executable, str(SCRIPT), "--serve", serve, "--cwd", str(apps),
            "--python", sys.executable, "--path", "/articles/", "--path", "/articles/?page=1",
            # Seeded draws: about half, never all or none.
            "--env", f"BENCH_DB={db}", "--env", "PERFDOCTOR_SAMPLE_SEED=5", "--sample", "0.5",
            "--sample-tail", "summary",
            "--rounds", "2", "--requests", "4", "--warmup", "2", "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (result,) = json.loads(done.stdout)["results"]
    assert result["app"] == "external"
    sides = ["bare", "perfdoctor", "sampled", "sampled-summary"]
    assert [side["side"] for side in result["sides"]] == sides
    full, sampled, summary = (result["sides"][i]["stored"] for i in (1, 2, 3))
    # The probe, 2 warm-up and 2 rounds of 4: all stored, and about half of them.
    assert full["requests"] == 1 + 2 + 2 * 4, full
    assert 0 < sampled["requests"] < full["requests"], sampled
    # Only the drawn ones captured (none here is slow or fails): each with its queries.
    assert 0 < summary["requests"] < full["requests"], summary
    assert all(n >= 40 for n in summary["db_spans_per_request"]), summary
