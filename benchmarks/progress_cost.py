"""What drawing progress costs: ``perfdoctor report`` and ``import otlp`` with stderr
on a pseudo-terminal (bar drawn) against stderr on a pipe (nothing drawn).

    python benchmarks/progress_cost.py [--traces 20000] [--runs 5]

A store of ``--traces`` traces (five queries each, 40 endpoints with long names)
is captured in-process, then exported as OTLP JSON lines. Each command runs as a
subprocess, the two ways alternated run after run; each figure is the median
wall time of ``--runs`` runs, and the ratio is terminal / pipe.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import perfdoctor


def _capture(path: Path, traces: int) -> None:
    perfdoctor.instrument(path)
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t (v) VALUES (?)", [(str(i),) for i in range(100)])
    for n in range(traces):
        with perfdoctor.trace(f"GET /area{n % 40}/authors/{{author_id}}/dashboard", "http"):
            for j in range(5):
                conn.execute("SELECT v FROM t WHERE id = ?", (j,)).fetchall()
    perfdoctor.uninstrument()


def _run(args: list[str], on_terminal: bool) -> float:
    """Wall seconds of ``perfdoctor ARGS``, stdout to /dev/null, stderr to a
    pseudo-terminal that is read as it is written (or to a pipe)."""
    command = [sys.executable, "-m", "perfdoctor", *args]
    started = time.perf_counter()
    if not on_terminal:
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
        return time.perf_counter() - started
    master, slave = pty.openpty()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    while True:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                if not os.read(master, 65536):
                    break
            except OSError:  # the child closed the terminal
                break
        elif process.poll() is not None:
            break
    process.wait()
    os.close(master)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited with {process.returncode}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--traces", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "traces.db"
        _capture(store, options.traces)
        exported = Path(folder) / "traces.jsonl"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "perfdoctor",
                "export",
                "otlp",
                "--traces",
                str(store),
                "-o",
                str(exported),
            ],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        size_mb = exported.stat().st_size / 1e6
        commands = {
            f"report ({options.traces} traces)": ["report", "--traces", str(store)],
            f"import otlp ({size_mb:.0f} MB)": [
                "import",
                "otlp",
                "--traces",
                str(Path(folder) / "imported.db"),
                str(exported),
            ],
        }
        print("| command | pipe s | terminal s | terminal / pipe |")
        print("| --- | ---: | ---: | ---: |")
        for name, args in commands.items():
            times: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(options.runs):
                for on_terminal in (False, True):
                    if args[0] == "import":
                        (Path(folder) / "imported.db").unlink(missing_ok=True)
                    times[on_terminal].append(_run(args, on_terminal))
            pipe, term = statistics.median(times[False]), statistics.median(times[True])
            print(f"| {name} | {pipe:.2f} | {term:.2f} | {term / pipe:.3f} |")


if __name__ == "__main__":
    main()
