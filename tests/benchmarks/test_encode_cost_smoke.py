"""benchmarks/encode_cost.py encodes real finished traces and digests the rows it
writes: two runs (here the same tree twice, as ``--before-src`` runs them) write
the same rows, and every query is a span.

A smoke test only: no timing is asserted (the figures live in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "encode_cost.py"


def test_two_runs_write_the_same_rows() -> None:
    command = [sys.executable, str(SCRIPT), "--library", "django", "--requests", "4"]
    command += ["--queries", "5", "--passes", "1", "--rounds", "1", "--json"]
    command += ["--before-src", str(ROOT / "src")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    trees = json.loads(done.stdout)["trees"]
    assert trees["before"]["digests"] == trees["this"]["digests"]
    assert len(trees["this"]["digests"]) == 1
    assert trees["this"]["spans"] == 4 * 5


def test_a_list_apps_traces_write_the_same_rows() -> None:
    # The DRF list app's requests: a serializer's query per row, each with its
    # trigger, and a JSON answer summarised anew in each pass.
    command = [sys.executable, str(SCRIPT), "--library", "drf-list", "--requests", "3"]
    command += ["--passes", "1", "--rounds", "1", "--json", "--before-src", str(ROOT / "src")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    trees = json.loads(done.stdout)["trees"]
    assert trees["before"]["digests"] == trees["this"]["digests"]
    assert len(trees["this"]["digests"]) == 1
    # A list query and one per row of the 39, at least, in each request.
    assert trees["this"]["spans"] >= 3 * 40
