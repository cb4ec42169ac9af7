"""benchmarks/request_instructions.py's worker serves both list apps under capture.

Only the worker is run (the counting needs valgrind and minutes); no figure is
asserted (they live in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "request_instructions.py"


@pytest.mark.parametrize(
    ("app", "mode"), [("django", "nowriter"), ("fastapi", "nowriter"), ("django", "batched")]
)
def test_the_worker_serves_the_app_captured(app: str, mode: str) -> None:
    command = [sys.executable, str(SCRIPT), "--worker", app, mode]
    command += ["--requests", "2", "--warmup", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
