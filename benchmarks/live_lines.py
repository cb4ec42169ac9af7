"""What ``perfdoctor run --live`` and ``--server-timing`` cost.

    python benchmarks/live_lines.py [--runs 7]

Requests are captured in this process (sqlite3 in memory, a blog of 20 articles):
``n+1`` runs the page query then one author query per article (21 queries),
``fixed`` one JOIN.  Each figure is the median of ``--runs`` runs, each run the
median over many repetitions.

* The live lines' side (the ``perfdoctor run`` process, not the app's): the
  first-use import of the detectors, in a fresh interpreter, next to importing
  perfdoctor's settings alone (the baseline); then per request: reading it back
  from the store, the five per-request detectors, and laying out its line, next
  to the whole analysis (every detector, ``perfdoctor report``'s) of the same trace.
* ``--server-timing``'s side (in the app, per response): making the header value
  from the trace, next to the request itself.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import perfdoctor
from perfdoctor import store
from perfdoctor.analysis.analyze import analyze
from perfdoctor.capture import context, server_timing
from perfdoctor.capture import sqlite as sqlite_capture
from perfdoctor.live.detect import RequestDetectors
from perfdoctor.live.line import request_line
from perfdoctor.live.render import Layout
from perfdoctor.model import Finding, Trace
from perfdoctor.settings import Settings

ARTICLES = 20


def blog() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("CREATE TABLE article (id INTEGER PRIMARY KEY, title TEXT, author_id INTEGER)")
    conn.executemany("INSERT INTO author (name) VALUES (?)", [(f"a{i}",) for i in range(10)])
    conn.executemany(
        "INSERT INTO article (title, author_id) VALUES (?, ?)",
        [(f"t{i}", i % 10 + 1) for i in range(ARTICLES)],
    )
    return conn


def n_plus_one(conn: sqlite3.Connection) -> None:
    for _id, author_id in conn.execute("SELECT id, author_id FROM article").fetchall():
        conn.execute("SELECT name FROM author WHERE id = ?", (author_id,)).fetchone()


def fixed(conn: sqlite3.Connection) -> None:
    conn.execute(
        "SELECT article.id, author.name FROM article JOIN author ON author.id = article.author_id"
    ).fetchall()


VIEWS: dict[str, Callable[[sqlite3.Connection], None]] = {"n+1": n_plus_one, "fixed": fixed}


def median_us(action: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1e6)
    return statistics.median(samples)


def capture(folder: Path) -> tuple[dict[str, Trace], dict[str, tuple[float, float]]]:
    """One stored trace per view; and per view the header's cost and the request's, in µs."""
    traces = folder / "traces.db"
    perfdoctor.instrument(traces)
    header: dict[str, tuple[float, float]] = {}
    try:
        conn = blog()
        for name, view in VIEWS.items():
            with perfdoctor.trace(f"GET /{name}", kind="http"):
                view(conn)
                active = context.current()
                assert active is not None
                cost = median_us(partial(server_timing.value, active), 2000)
            request = median_us(partial(view, conn), 200)  # the same work, captured
            header[name] = (cost, request)
    finally:
        perfdoctor.uninstrument()
        sqlite_capture.uninstall()
    loaded = {t.name.split("/", 1)[1]: t for t in store.load_traces(traces)}
    return loaded, header


def lay_out(layout: Layout, trace: Trace, found: list[Finding]) -> object:
    return layout.pieces(request_line(trace, found), 79)


def import_ms(code: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", f"import time; t = time.perf_counter(); {code}; "
         "print((time.perf_counter() - t) * 1000)"],
        check=True, capture_output=True, text=True,
    )
    return float(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs

    imports = {
        "settings alone (baseline)": "import perfdoctor.settings",
        "RequestDetectors (the live thread's start)": (
            "from perfdoctor.live.detect import RequestDetectors; "
            "from perfdoctor.settings import Settings; RequestDetectors(Settings())"
        ),
    }
    print("first use, in a fresh interpreter (ms, median of runs)")
    for label, code in imports.items():
        print(f"  {label:45} {statistics.median(import_ms(code) for _ in range(runs)):8.1f}")

    settings = Settings()
    detectors = RequestDetectors(settings)
    rows: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            folder = Path(tmp) / f"run{run}"
            folder.mkdir()
            traces, header = capture(folder)
            path = folder / "traces.db"
            # One poll reads both requests: its cost per request.
            poll = median_us(partial(store.recent_traces, path, 0, 0.0), 50) / len(traces)
            for name, trace in traces.items():
                found = detectors.findings(trace)
                layout = Layout(500.0)
                cost, request = header[name]
                figures = {
                    "store read": poll,
                    "5 detectors": median_us(partial(detectors.findings, trace), 200),
                    "line": median_us(partial(lay_out, layout, trace, found), 500),
                    "all detectors (report)": median_us(partial(analyze, [trace], settings), 50),
                    "Server-Timing value": cost,
                    "captured request": request,
                }
                for column, value in figures.items():
                    rows.setdefault(name, {}).setdefault(column, []).append(value)

    print("\nper request (µs, median of runs)")
    columns = list(next(iter(rows.values())))
    print("  " + "view".ljust(8) + "".join(c.rjust(24) for c in columns))
    for name, row in rows.items():
        cells = "".join(f"{statistics.median(row[c]):24.1f}" for c in columns)
        print(f"  {name:8}{cells}")
    for name, row in rows.items():
        five = statistics.median(row["5 detectors"])
        every = statistics.median(row["all detectors (report)"])
        st = statistics.median(row["Server-Timing value"])
        request = statistics.median(row["captured request"])
        print(
            f"  {name}: the five detectors take {five / every:.0%} of the whole analysis; "
            f"the Server-Timing value is {st / request:.1%} of the request"
        )


if __name__ == "__main__":
    main()
