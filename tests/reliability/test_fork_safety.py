"""A process that captures traffic forks: its children never hang on the trace writer.

The probe (fork_probe.py) forks 2,000 times while a thread of its own produces
traces non-stop, so the writer thread is inside SQLite at most of the forks.
Before the writer took a lock the fork waits for, about one child in ten hung
for ever in its first sqlite3.connect (SQLite's allocator lock, inherited held).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from perfdoctor import store
from perfdoctor.store import spool
from tests.capture.apps_support import app_env
from tests.reliability.support import HERE, names_in

FORKS = 2000
# A child that lives this long has hung: they end in milliseconds.
HANG_AFTER_S = 20
# A failing run stops forking after this many hangs, so that it ends soon.
STOP_AFTER_HANGS = 5


def test_thousands_of_children_forked_while_the_writer_is_busy_all_end(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    result = subprocess.run(
        [sys.executable, str(HERE / "fork_probe.py"), str(traces), str(tmp_path), str(FORKS),
         str(HANG_AFTER_S), str(STOP_AFTER_HANGS)],
        capture_output=True, text=True, timeout=600, env=app_env(),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["hung"] == 0, f"{summary['hung']} of {summary['forks']} forked children hung"
    assert summary == {**summary, "forks": FORKS, "failed": 0}, result.stderr
    assert "Traceback" not in result.stderr, result.stderr

    # Every child that captured traffic of its own stored it (half of them), and the
    # parent's writer kept writing through the forks.
    store.merge_spool(traces)
    names = names_in(traces)
    assert names.count("child job") == FORKS // 2
    assert sum(name.startswith("producer") for name in names) > 0
    assert spool.files(traces) == []
    assert store.unstored(traces).lost == 0
