"""Captures traces while the test holds the store: ``python busy_producer.py STORE COUNT``.

With a small cap on what may wait in memory, it captures COUNT traces, waits
until the recorder has dealt with them, and prints one JSON line: the spool
files there are while it runs, and the bytes still waiting in memory.  Then it
waits for a line on stdin (the test has let go of the store), captures one
more trace, and ends.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path

import perfdoctor
from perfdoctor.capture import auto, recorder
from perfdoctor.store import spool

CAP = 20_000  # bytes: a few dozen traces


def main() -> None:
    path, count = Path(sys.argv[1]), int(sys.argv[2])
    recorder.MAX_PENDING_BYTES = CAP
    perfdoctor.instrument(path)
    conn = sqlite3.connect(":memory:")
    for i in range(count):
        with perfdoctor.trace("GET /busy"):
            conn.execute("SELECT ?", (i,)).fetchall()
        time.sleep(0.002)
    time.sleep(1.0)  # a few of the writer's cycles
    writer = auto._recorder
    assert writer is not None
    print(json.dumps({"spool_files": len(spool.files(path)), "waiting_bytes": writer._ready_bytes}))
    sys.stdout.flush()
    sys.stdin.readline()
    with perfdoctor.trace("GET /after"):
        conn.execute("SELECT 1").fetchall()


if __name__ == "__main__":
    main()
