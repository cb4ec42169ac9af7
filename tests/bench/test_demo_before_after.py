"""The demo's N+1 endpoint against its fixed twin: bench both, then compare.

Only the verdict of a five-fold change is asserted ("faster"); that two runs
of one endpoint show "no detectable change" depends on the machine's noise,
so it is measured by hand (see benchmarks/RESULTS.md), not tested.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def perfdoctor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfdoctor", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_the_fixed_twin_is_faster_with_its_interval(tmp_path: Path) -> None:
    env = {**os.environ, "PERFDOCTOR_DEMO_DB": str(tmp_path / "demo.sqlite")}
    results = {}
    for name, endpoint in (("slow", "GET /articles"), ("fixed", "GET /articles/fixed")):
        out = tmp_path / f"{name}.json"
        done = perfdoctor(
            "bench", "--app", "perfdoctor.demo.wsgi:app", "--endpoint", endpoint,
            "--requests", "60", "--output", str(out), env=env,
        )
        assert done.returncode == 0, done.stderr
        results[name] = out
    compared = perfdoctor(
        "compare", str(results["slow"]), str(results["fixed"]),
        "--pair", "GET /articles=GET /articles/fixed", "--seed", "1", "--format", "json", env=env,
    )
    assert compared.returncode == 0, compared.stderr
    report = json.loads(compared.stdout)
    [row] = report["endpoints"]
    assert row["verdict"] == "faster", row
    median = row["median_ms"]
    low, high = median["diff_interval"]
    assert low <= median["diff"] <= high < 0
    assert row["queries_per_request"]["after"] < row["queries_per_request"]["before"]
    text = perfdoctor(
        "compare", str(results["slow"]), str(results["fixed"]),
        "--pair", "GET /articles=GET /articles/fixed", "--seed", "1", env=env,
    )
    assert "faster" in text.stdout and "[" in text.stdout  # the verdict and its interval
    disappeared = {f["id"] for f in report["findings"]["disappeared"]}
    assert "n-plus-one-query" in disappeared
