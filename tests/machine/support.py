"""A real Flask app captured in this process, and its traces as measured on another machine.

``/compute`` burns 30 ms of its thread's CPU (wall time grows when the thread waits
for a CPU), ``/nap`` sleeps 60 ms (no CPU, no span), ``/report`` runs a
CPU-bound SQLite query, ``/wait`` a query that waits 60 ms as one waits for a
database server.  :func:`on_machine` gives traces the machine sample
capture would have stored on a loaded or a quiet machine: the detectors only
read the sample, and a real loaded machine is what tests/machine/
test_busy_neighbours.py makes.
"""

from __future__ import annotations

import copy
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from perfdoctor.model import Trace
from perfdoctor.settings import Settings
from tests.inprocess import capturing, load

COMPUTE_CPU_S = 0.03
NAP_S = 0.06
# A recursive count SQLite computes on the CPU: some tens of ms.
COUNT_SQL = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
    "SELECT count(*) FROM c"
)
# Budgets every endpoint and the query go over on any machine.
SETTINGS = Settings(slow_endpoint_p95_ms=10.0, slow_query_p95_ms=5.0)

# What capture stores on a 2-CPU machine with four CPU-bound neighbours (the
# case that motivated the feature: load 4.6 on 2 CPUs), and on the same machine idle.
BUSY = {"load1": 4.6, "cpus": 2, "cpu_pressure": 63.0, "steal_pct": 0.0}
QUIET = {"load1": 0.3, "cpus": 2, "cpu_pressure": 1.2, "steal_pct": 0.0}


def burn(seconds: float) -> None:
    """Use ``seconds`` of this thread's CPU time."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def app() -> Any:
    from flask import Flask, jsonify

    flask_app = Flask("machine")

    @flask_app.get("/compute")
    def compute() -> object:
        burn(COMPUTE_CPU_S)
        return jsonify(ok=True)

    @flask_app.get("/nap")
    def nap() -> object:
        time.sleep(NAP_S)
        return jsonify(ok=True)

    @flask_app.get("/report")
    def report() -> object:
        conn = sqlite3.connect(":memory:")
        (count,) = conn.execute(COUNT_SQL, (150_000,)).fetchone()
        conn.close()
        return jsonify(count=count)

    @flask_app.get("/wait")
    def wait() -> object:
        conn = sqlite3.connect(":memory:")
        conn.create_function("pause", 1, lambda ms: time.sleep(ms / 1000.0) or ms)
        conn.execute("SELECT pause(?)", (NAP_S * 1000,)).fetchone()
        conn.close()
        return jsonify(ok=True)

    return flask_app


def capture(path: Path, paths: Sequence[str], rounds: int = 3) -> list[Trace]:
    """Request each of ``paths`` ``rounds`` times through the app under capture."""
    with capturing(path):
        client = app().test_client()
        for _ in range(rounds):
            for url in paths:
                client.get(url).close()
    return load(path)


def on_machine(traces: Iterable[Trace], machine: dict[str, Any] | None) -> list[Trace]:
    """Copies of ``traces`` carrying ``machine`` as their sample (None: no sample)."""
    out = []
    for trace in traces:
        twin = copy.deepcopy(trace)
        twin.attrs.pop("machine", None)
        if machine is not None:
            twin.attrs["machine"] = dict(machine)
        out.append(twin)
    return out
