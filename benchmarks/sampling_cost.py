"""What sampling saves: per request cost and store growth at ``--sample`` rates.

    python benchmarks/sampling_cost.py            # about 3 minutes on 2 cores
    python benchmarks/sampling_cost.py --quick    # a smoke run in seconds
    python benchmarks/sampling_cost.py --json     # the same figures as JSON on stdout
    python benchmarks/sampling_cost.py --before-src OTHER/src --rates 0.01  # two trees

A Flask app on a SQLite file, requested through Flask's test client in a worker
process: each request is a list endpoint running 40 queries (one for the page,
one per row: the N+1 every kept trace shows).  Variants, one worker process
each, rotated in every round so a machine's slow phase hits them alike:

* ``bare``: no perfdoctor;
* ``all``: ``perfdoctor.instrument()``, every request kept;
* ``sample-R``: ``perfdoctor.instrument(sample=R)``, head sampling at rate R and
  the tail rule (no request here is slow or fails, so the draw alone decides);
* ``summary-R``: the same with ``sample_tail="summary"``: a request the draw
  leaves out is not captured.

Figures per variant (median over rounds of each worker's figure):

* wall µs per request, the median of the worker's blocks;
* CPU µs per request of the whole process, the recorder's writes included
  (until it has flushed): what a capturing app pays in total;
* store bytes per 1000 requests: the file's growth over the timed requests, after
  a checkpoint (the schema's pages left out);
* traces kept per 1000 requests;
* sampled variants: thread-CPU ns of an empty request the draw drops (``start``
  and ``finish`` with no span: the head draw, the tail rule and its counts),
  the median of blocks of 20 000, in the same worker after its requests.

Workers inherit ``PYTHONPATH``, so another copy of perfdoctor can be measured;
``--before-src`` adds each sampled variant again from that copy (``@before``),
in the same rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROWS = 39  # + the page query: 40 queries per request
BEFORE = "@before"


def _worker(variant: str, folder: Path, blocks: int, per_block: int) -> dict[str, Any]:
    import perfdoctor

    traces = folder / "traces.db"
    if variant == "all":
        perfdoctor.instrument(traces=traces)
    elif variant.startswith("sample-"):
        perfdoctor.instrument(traces=traces, sample=float(variant.split("-", 1)[1]))
    elif variant.startswith("summary-"):
        rate = float(variant.split("-", 1)[1])
        perfdoctor.instrument(traces=traces, sample=rate, sample_tail="summary")
    from flask import Flask

    db = folder / "app.db"
    setup = sqlite3.connect(db)
    setup.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, owner_id INTEGER, name TEXT)")
    setup.execute("CREATE TABLE owner (id INTEGER PRIMARY KEY, name TEXT)")
    setup.executemany("INSERT INTO owner VALUES (?, ?)", [(i, f"o{i}") for i in range(ROWS)])
    setup.executemany(
        "INSERT INTO item VALUES (?, ?, ?)", [(i, i % ROWS, f"n{i}") for i in range(ROWS)]
    )
    setup.commit()
    setup.close()
    app = Flask(__name__)
    conn = sqlite3.connect(db, check_same_thread=False)

    @app.route("/items")
    def items() -> str:
        rows = conn.execute("SELECT id, owner_id FROM item LIMIT ?", (ROWS,)).fetchall()
        owners = [
            conn.execute("SELECT name FROM owner WHERE id = ?", (owner,)).fetchone()[0]
            for _, owner in rows
        ]
        return ",".join(owners)

    client = app.test_client()
    for _ in range(per_block):  # warm-up
        client.get("/items")
    size0 = _store_size(traces) if variant != "bare" else 0
    walls = []
    cpu0 = time.process_time()
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(per_block):
            client.get("/items")
        walls.append((time.perf_counter() - start) * 1e6 / per_block)
    if variant != "bare":
        perfdoctor.flush()
    cpu_us = (time.process_time() - cpu0) * 1e6 / (blocks * per_block)
    result: dict[str, Any] = {"wall_us": statistics.median(walls), "cpu_us": cpu_us}
    if variant != "bare":
        perfdoctor.uninstrument()
        total = blocks * per_block
        # Growth over the timed requests: the schema's own pages are not theirs.
        result["store_bytes_per_1000"] = (_store_size(traces) - size0) * 1000 / total
        with sqlite3.connect(traces) as store:
            kept = store.execute("SELECT count(*) FROM traces WHERE kind = 'http'").fetchone()[0]
        result["kept_per_1000"] = kept * 1000 / (total + per_block)
    if variant.startswith("sample-"):
        result["dropped_request_ns"] = _dropped_request_ns(float(variant.split("-", 1)[1]))
    return result


def _dropped_request_ns(rate: float) -> float:
    """Thread-CPU ns per empty request the draw drops: the rule's per-request cost."""
    from perfdoctor.capture import context, sampling

    sampling.configure(rate, slow_ms=60_000.0)
    context.state.on_finish = None
    context.state.on_drop = None
    start, finish = context.start, context.finish
    block = 20_000
    blocks = []
    for _ in range(9):
        cpu0 = time.thread_time()
        for _ in range(block):
            trace, token = start("GET /items")
            finish(trace, token)
        blocks.append((time.thread_time() - cpu0) * 1e9 / block)
    context.take_sample_counts()
    return statistics.median(blocks)


def _store_size(traces: Path) -> int:
    """The store's file size once everything written so far is in it."""
    import perfdoctor

    perfdoctor.flush()
    with sqlite3.connect(traces) as store:
        store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return traces.stat().st_size


def _run_worker(
    variant: str, blocks: int, per_block: int, before_src: str | None
) -> dict[str, Any]:
    env = {**os.environ, "PERFDOCTOR_SAMPLE_SEED": "1"}
    if variant.endswith(BEFORE):
        assert before_src is not None
        variant = variant[: -len(BEFORE)]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [before_src, env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="pd-sampling-") as folder:
        done = subprocess.run(
            [sys.executable, __file__, "--worker", variant, folder, str(blocks), str(per_block)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        if done.returncode != 0:
            raise SystemExit(f"worker {variant} failed:\n{done.stderr}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--blocks", type=int, default=15)
    parser.add_argument("--per-block", type=int, default=200)
    parser.add_argument("--rates", default="0.05,0.01")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--before-src", help="another copy of the package's src, measured too")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.blocks, args.per_block = 1, 3, 50
    rates = args.rates.split(",")
    variants = ["bare", "all"] + [f"sample-{r}" for r in rates] + [f"summary-{r}" for r in rates]
    if args.before_src:
        variants += [f"sample-{r}{BEFORE}" for r in args.rates.split(",")]
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for round_no in range(args.rounds):
        order = variants[round_no % len(variants) :] + variants[: round_no % len(variants)]
        for variant in order:
            runs[variant].append(_run_worker(variant, args.blocks, args.per_block, args.before_src))
        print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    figures = {v: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for v, rs in runs.items()}
    if args.json:
        json.dump(figures, sys.stdout, indent=2)
        print()
        return
    bare = figures["bare"]
    print(
        f"{'variant':<18} {'wall µs/req':>12} {'+wall':>8} {'CPU µs/req':>11} {'+CPU':>8} "
        f"{'kept/1000':>10} {'store kB/1000':>14} {'dropped ns':>11}"
    )
    for variant, f in figures.items():
        extra = "" if variant == "bare" else f"{f['wall_us'] - bare['wall_us']:+8.1f}"
        extra_cpu = "" if variant == "bare" else f"{f['cpu_us'] - bare['cpu_us']:+8.1f}"
        kept = f"{f['kept_per_1000']:10.1f}" if "kept_per_1000" in f else f"{'':>10}"
        size = (
            f"{f['store_bytes_per_1000'] / 1000:14.1f}"
            if "store_bytes_per_1000" in f
            else f"{'':>14}"
        )
        dropped = f"{f['dropped_request_ns']:11.0f}" if "dropped_request_ns" in f else ""
        print(
            f"{variant:<18} {f['wall_us']:12.1f} {extra:>8} {f['cpu_us']:11.1f} "
            f"{extra_cpu:>8} {kept} {size} {dropped}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        variant, folder, blocks, per_block = sys.argv[2:6]
        print(json.dumps(_worker(variant, Path(folder), int(blocks), int(per_block))))
    else:
        main()
