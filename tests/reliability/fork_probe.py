"""Forks many children from a process whose trace writer is busy, and counts hangs.

Run as a script (a forked child leaves through the interpreter's normal exit, so
its ``atexit`` hooks run, which must not happen inside pytest)::

    python fork_probe.py STORE WORKDIR FORKS [HANG_AFTER_S [MAX_HANGS]]

Prints one JSON line: how many children were forked, how many hung (killed after
``HANG_AFTER_S``), how many exited with another status than 0.  After
``MAX_HANGS`` hangs (0: no limit) it forks no more, so that a failing run ends
soon and still says how many hung.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path

import perfdoctor
from perfdoctor.capture import context

# Children alive at once: enough to overlap their start-up and exit on 2 CPUs.
IN_FLIGHT = 8


def produce(stop: threading.Event) -> None:
    """Traces, continuously, so that the writer thread is inside SQLite most of
    the time.  Their spans are recorded without running SQLite here: this thread
    must not be inside SQLite itself when the main thread forks (that would hang
    a child without perfdoctor too)."""
    n = 0
    while not stop.is_set():
        with perfdoctor.trace(f"producer {n % 7}"):
            trace = context.current()
            assert trace is not None
            for i in range(10):
                now = context.perf_counter()
                context.record_db(
                    trace, "sqlite", f"SELECT name FROM t{i} WHERE id = ?", (n,), now, now, 1, None
                )
        n += 1
        if n % 10 == 0:
            # A steady stream (a few thousand traces a second), not a flood that
            # would grow the store by megabytes a second.
            time.sleep(0.002)


def child(kind: int, workdir: Path) -> None:
    """What real children do: open a database of their own and query it; some
    capture traffic themselves.  Then a normal interpreter exit."""
    conn = sqlite3.connect(str(workdir / f"child-{kind % 4}.db"), timeout=30)
    conn.execute("CREATE TABLE IF NOT EXISTS c (x)")
    conn.execute("SELECT count(*) FROM c").fetchone()
    if kind % 2:
        with perfdoctor.trace("child job"):
            conn.execute("SELECT count(*) FROM c").fetchone()
    conn.close()


def main() -> None:
    store, workdir, forks = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    hang_after = float(sys.argv[4]) if len(sys.argv) > 4 else 20.0
    max_hangs = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    perfdoctor.instrument(store)
    stop = threading.Event()
    producer = threading.Thread(target=produce, args=(stop,), daemon=True)
    producer.start()
    time.sleep(0.3)  # the writer is busy before the first fork
    # As pre-fork servers do: a child's exit then does not walk (and copy) the
    # whole heap, which made each child's exit several times slower.
    gc.collect()
    gc.freeze()
    alive: dict[int, float] = {}
    hung = failed = forked = 0
    started = time.monotonic()
    while forked < forks or alive:
        if max_hangs and hung >= max_hangs:
            forks = forked
        while forked < forks and len(alive) < IN_FLIGHT:
            pid = os.fork()
            if pid == 0:
                try:
                    child(forked, workdir)
                except BaseException as exc:
                    sys.stderr.write(f"child failed: {exc!r}\n")
                    raise SystemExit(1) from None
                raise SystemExit(0)
            alive[pid] = time.monotonic()
            forked += 1
        for pid, since in list(alive.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                del alive[pid]
                if os.waitstatus_to_exitcode(status) != 0:
                    failed += 1
            elif time.monotonic() - since > hang_after:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                del alive[pid]
                hung += 1
        time.sleep(0.0005)
    stop.set()
    producer.join()
    elapsed = time.monotonic() - started
    print(json.dumps({"forks": forked, "hung": hung, "failed": failed, "seconds": round(elapsed, 1)}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
