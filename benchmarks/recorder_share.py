"""What the recorder thread costs the app's requests, in one process.

The cross-process benchmark (``capture_overhead.py``) compares workers started
one after another; on a shared 2-vCPU machine their wall times differ by more
than the recorder's share.  Here one process serves back-to-back requests of
``--queries`` queries (the workloads of ``capture_overhead.py``, perfdoctor on),
alternating rounds in which finished traces go to the recorder (encoded and
written by its thread, as in ``perfdoctor run``) with rounds in which they are
dropped (the request path alone), so that drift hits both alike::

    python benchmarks/recorder_share.py --library sqlalchemy --rounds 9

Per side: requests' mean and p50 wall time, the request thread's CPU (p50), and
the mean of wall minus thread CPU (time the request thread was not running:
waiting for the GIL, or for a CPU).  The recorder's share is the difference of
the means, per query; and the CPU time of the process's other threads (the
recorder's) per query handed to it.  ``--busy-interval 0.1`` adds a side whose recorder
waits 0.1 s between cycles even under heavy traffic (as before 2026-12-05).
A round lasts ``--requests`` requests (keep it past a few of the recorder's
cycles: 0.1 s, or 1 s under heavy traffic), optionally with ``--gap`` seconds
of sleep between requests (a client's turnaround).

``--before-src OTHER/src`` compares two copies of the package: the measurement
runs in a subprocess per copy, the two alternating ``--repeat`` times (drift
hits both alike), and the summary gives each copy's shares, run by run, and
their medians::

    python benchmarks/recorder_share.py --library django --before-src OTHER/src --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import capture_overhead


def measure(
    library: str,
    rounds: int,
    requests: int,
    queries: int,
    gap: float,
    busy_intervals: list[float] | None = None,
) -> dict[str, Any]:
    """``busy_intervals``: more recorder sides, each with the recorder's
    ``BUSY_INTERVAL`` set to that many seconds (the ``recorder`` side keeps its own)."""
    tracing = capture_overhead.PerfdoctorTracing(Path(tempfile.mkdtemp(prefix="pd-share-")))
    workload = capture_overhead.WORKLOADS[library]("perfdoctor")
    around = tracing.request if workload.own_trace else tracing.block
    from perfdoctor.capture import context, recorder

    submit = context.state.on_finish
    own = recorder.BUSY_INTERVAL
    intervals = {"recorder": own, **{f"busy {s:g} s": s for s in busy_intervals or []}}
    sides = [*intervals, "dropped"]
    walls: dict[str, list[float]] = {side: [] for side in sides}
    cpus: dict[str, list[float]] = {side: [] for side in sides}
    start = 0
    process0 = time.process_time()
    for round_ in range(rounds):
        side = sides[round_ % len(sides)]
        context.state.on_finish = submit if side in intervals else (lambda trace: None)
        recorder.BUSY_INTERVAL = intervals.get(side, own)
        for _ in range(requests):
            cpu0, wall0 = time.thread_time(), time.perf_counter()
            with around():
                workload.block(queries, start)
            walls[side].append((time.perf_counter() - wall0) * 1e3)
            cpus[side].append((time.thread_time() - cpu0) * 1e3)
            start += queries
            if gap:
                time.sleep(gap)
    context.state.on_finish = submit
    recorder.BUSY_INTERVAL = own
    tracing.settle()
    # CPU of every thread but the requests' (the recorder's, its final flush
    # included), per query the recorder was handed: steadier than wall times on
    # a shared machine.
    others_ms = (time.process_time() - process0) * 1e3 - sum(sum(c) for c in cpus.values())
    handed = sum(len(walls[side]) for side in intervals) * queries
    result: dict[str, Any] = {
        "library": library,
        "queries": queries,
        "sides": {},
        "background_cpu_us_per_query": others_ms * 1e3 / handed,
    }
    for side in sides:
        wall, cpu = walls[side], cpus[side]
        result["sides"][side] = {
            "mean_ms": statistics.mean(wall),
            "p50_ms": statistics.median(wall),
            "p90_ms": statistics.quantiles(wall, n=10)[-1],
            "cpu_p50_ms": statistics.median(cpu),
            "not_running_mean_ms": statistics.mean(w - c for w, c in zip(wall, cpu)),
        }
    off = result["sides"]["dropped"]
    result["share_us_per_query"] = {
        side: {
            key: (on[key] - off[key]) * 1e3 / queries
            for key in ("mean_ms", "p50_ms", "cpu_p50_ms", "not_running_mean_ms")
        }
        for side, on in result["sides"].items()
        if side != "dropped"
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--library", choices=("sqlite3", "sqlalchemy", "django"), default="sqlalchemy"
    )
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=1000, help="requests per round")
    parser.add_argument("--queries", type=int, default=40, help="queries per request")
    parser.add_argument("--gap", type=float, default=0.0, help="seconds between requests")
    parser.add_argument(
        "--busy-interval",
        type=float,
        action="append",
        help="also a recorder side with this BUSY_INTERVAL (repeatable)",
    )
    parser.add_argument("--before-src", help="another copy of the package's src, measured too")
    parser.add_argument("--repeat", type=int, default=3, help="runs per copy (--before-src)")
    parser.add_argument("--json", action="store_true")
    args, _ = parser.parse_known_args()
    if args.before_src:
        compare(args)
        return
    result = measure(
        args.library, args.rounds, args.requests, args.queries, args.gap, args.busy_interval
    )
    if args.json:
        print(json.dumps(result))
        return
    report(result, args.gap)


def compare(args: argparse.Namespace) -> None:
    this = Path(__file__).resolve().parent.parent / "src"
    trees = [("before", Path(args.before_src).resolve()), ("this", this)]
    command = [sys.executable, __file__, "--json", "--library", args.library]
    for name in ("rounds", "requests", "queries", "gap"):
        command += [f"--{name}", str(getattr(args, name))]
    shares: dict[str, list[dict[str, float]]] = {name: [] for name, _ in trees}
    loads = []
    for run in range(args.repeat):
        for name, src in trees if run % 2 == 0 else trees[::-1]:
            env = dict(os.environ, PYTHONPATH=str(src))
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            shares[name].append(
                {
                    **result["share_us_per_query"]["recorder"],
                    "background_cpu": result["background_cpu_us_per_query"],
                }
            )
            loads.append(os.getloadavg()[0])
    between = f"{args.gap * 1e3:g} ms apart" if args.gap else "back to back"
    print(
        f"{args.library}: requests of {args.queries} queries, {between}; the recorder's share, "
        f"µs per query (load average {min(loads):.1f}-{max(loads):.1f})"
    )
    keys = ("mean_ms", "p50_ms", "cpu_p50_ms", "not_running_mean_ms", "background_cpu")
    for name, runs in shares.items():
        medians = ", ".join(
            f"{key.removesuffix('_ms')} {statistics.median(r[key] for r in runs):+.2f}"
            for key in keys
        )
        each = " ".join(f"{r['mean_ms']:+.2f}" for r in runs)
        print(f"  {name:<7} medians: {medians}  (means run by run: {each})")


def report(result: dict[str, Any], gap: float) -> None:
    between = f"{gap * 1e3:g} ms apart" if gap else "back to back"
    print(f"{result['library']}: requests of {result['queries']} queries, {between}")
    head = ("side", "mean", "p50", "p90", "cpu p50", "not running")
    print(f"  {head[0]:<12} " + " ".join(f"{h:>8}" for h in head[1:5]) + f" {head[5]:>12}  (ms)")
    for side, row in result["sides"].items():
        print(
            f"  {side:<12} {row['mean_ms']:8.3f} {row['p50_ms']:8.3f} {row['p90_ms']:8.3f} "
            f"{row['cpu_p50_ms']:8.3f} {row['not_running_mean_ms']:12.3f}"
        )
    print(
        "  CPU of the other threads (the recorder's), µs per query handed to it: "
        f"{result['background_cpu_us_per_query']:.2f}"
    )
    for side, share in result["share_us_per_query"].items():
        print(
            f"  {side}'s share, µs per query: "
            + ", ".join(f"{key.removesuffix('_ms')} {value:+.2f}" for key, value in share.items())
        )


if __name__ == "__main__":
    main()
