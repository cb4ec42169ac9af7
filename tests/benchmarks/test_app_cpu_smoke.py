"""benchmarks/app_cpu.py measures a WSGI app of one's own (``--wsgi``), with sides
that leave one part of the capture out (``--without``, ``--no-callsite``).

No figure is asserted (they live in benchmarks/RESULTS.md): each side must run
and be reported, with the garbage collector's time and full collections beside.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.benchmarks.test_request_opcodes_smoke import APP

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "app_cpu.py"


def test_a_wsgi_app_of_ones_own_with_parts_left_out(tmp_path: Path) -> None:
    (tmp_path / "shop.py").write_text(APP)
    command = [sys.executable, str(SCRIPT), "--wsgi", "shop:app", "--cwd", str(tmp_path)]
    command += ["--path", "/items", "--mode", "nowriter", "--without", "flask.app"]
    command += ["--no-callsite", "--rounds", "1", "--requests", "3", "--warmup", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = {line[9:45].strip(): line for line in done.stdout.splitlines()[1:]}
    assert set(rows) == {
        "bare", "nowriter", "nowriter without flask.app", "nowriter without call sites"
    }, done.stdout
    assert all(" ms" in rows[side] for side in rows if side != "bare"), done.stdout
    # The collector's share beside each side's CPU.
    assert all(re.search(r" gc \d+\.\d{3} ms, [\d.]+ full$", row) for row in rows.values()), (
        done.stdout
    )


def test_leaving_out_an_integration_that_does_not_exist_is_one_line() -> None:
    command = [sys.executable, str(SCRIPT), "--wsgi", "shop:app", "--without", "flask.ap"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr.startswith("--without flask.ap: not an integration (sqlite3, ")
    assert len(done.stderr.strip().splitlines()) == 1
