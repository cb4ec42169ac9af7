"""benchmarks/hot_path.py runs each workload traced and untraced in one process and
counts the spans captured: one db span per query, and for SQLAlchemy's lazy loads
no span besides (the relation rides on the query's own span).

A smoke test only: no timing is asserted (the figures live in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "hot_path.py"


def test_every_query_is_one_db_span_in_every_workload() -> None:
    command = [sys.executable, str(SCRIPT), "--rounds", "1", "--reps", "2", "--warmup", "1"]
    command += ["--queries", "20", "--steps", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = {(row["library"], row["tree"]): row for row in json.loads(done.stdout)}
    for library in ("sqlite3", "sqlalchemy", "sqlalchemy-lazy", "django"):
        assert rows[(library, "bare")]["spans"] == {}
        after = rows[(library, "after")]
        # Traced blocks (warm-up and timed) of "on" and of each step variant but
        # the one whose record_db records nothing.
        steps = [k for k in after if k in STEPS and k != "record_db no-op"]
        traced = (1 + 2) * (1 + len(steps))
        # The lazy workload runs one query more than its n lookups per block.
        per_block = 21 if library == "sqlalchemy-lazy" else 20
        assert after["spans"] == {"db": traced * per_block}, (library, after)
        assert "on over bare" in after


STEPS = ("walk stubbed", "record_db no-op", "no do_orm_execute listener")
