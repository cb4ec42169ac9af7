"""The recorder's encoding, CPU per span: ``Encoder.add`` on real finished traces.

A worker process serves ``--requests`` requests of ``--queries`` queries (the
workloads of ``capture_overhead.py``, perfdoctor on) and keeps the finished
traces instead of handing them to the recorder.  It then encodes them as the
recorder does (batches of ``MAX_BATCH_TRACES``, each counted as committed, one
encoder for the process so its caches are warm after the first pass) and times
``--passes`` passes with the thread's CPU clock: µs of CPU per span, per pass.
It also writes the traces' rows to a fresh store and reports a digest of what
the store holds (the traces' ids, times and connection ids made the same in
every worker first), so that two trees can be checked to write the same rows::

    python benchmarks/encode_cost.py --library sqlalchemy
    python benchmarks/encode_cost.py --library django --before-src OTHER/src

``--library drf-list`` and ``--library fastapi-list`` take the traces of the
list apps of ``app_cpu.py`` instead (``benchmarks/apps``: a DRF serializer's or a
lazy load's query per row, each with its trigger, and a 10 KB JSON answer), and
time each pass with the response's summary made anew, as the recorder makes it
(``--queries`` does not apply)::

    python benchmarks/encode_cost.py --library drf-list --before-src OTHER/src

With ``--before-src`` the worker also runs from another copy of the package, the
two alternating over ``--rounds`` (drift hits both alike); the summary gives each
tree's median over every pass of every round, their ratio, and whether the
digests matched.  A round also times the write of one batch (``store.write_batch``
and the retention check) in the same process, and a sketch of what a writer
process's sending side would cost instead of the encoding (``_ship``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
LIST_APPS = ("drf-list", "fastapi-list")


def _deterministic(traces: list[Any]) -> None:
    """Ids, clocks and connection ids as every worker would make them (connections
    numbered within each trace: an app that opens one a request may be given a
    freed one's address, at a point that differs from run to run)."""
    from perfdoctor.capture.response import BodySummary

    conns: dict[Any, int] = {}

    def conn_of(value: Any) -> Any:
        if value is None:
            return None
        return conns.setdefault(value, len(conns) + 1)

    for i, trace in enumerate(traces):
        conns.clear()
        trace.id = f"{i:032x}"
        trace.started_at = 1.8e9 + i
        trace.start = 0.0
        trace.finished = 0.05
        trace.attrs.pop("cpu_ms", None)
        trace.attrs.pop("response_ms", None)
        trace.attrs.pop("server_timing", None)
        response = trace.attrs.get("response")
        if isinstance(response, BodySummary) and response._chunks is not None:
            trace.attrs["response"] = _Body(response)
        if "machine" in trace.attrs:  # the load average when the trace finished
            trace.attrs["machine"] = {"load1": 1.5, "cpus": 2}
        spans = []
        for j, raw in enumerate(trace.spans):
            raw = list(raw)
            raw[1], raw[2] = j * 1e-4, 5.5e-5
            if raw[0] == "db":
                raw[10] = conn_of(raw[10])
            elif len(raw) > 5 and isinstance(raw[5], dict):
                extra = dict(raw[5])
                if "connection_id" in extra:
                    extra["connection_id"] = conn_of(extra["connection_id"])
                extra.pop("thread", None)
                raw[5] = extra
            spans.append(tuple(raw))
        trace.spans = spans


def _copy(trace: Any) -> Any:
    """A trace to encode once more (the encoder may take items out of a span's dict)."""
    from perfdoctor.capture.context import ActiveTrace

    new = ActiveTrace.__new__(ActiveTrace)
    for name in ActiveTrace.__slots__:
        setattr(new, name, getattr(trace, name))
    new.attrs = dict(trace.attrs)
    body = new.attrs.get("response")
    if isinstance(body, _Body):  # summarised anew by each encoding, as once per request
        new.attrs["response"] = body.summary()
    new.spans = [
        raw if raw[0] == "db" or len(raw) <= 5 or not isinstance(raw[5], dict)
        else (*raw[:5], dict(raw[5]), *raw[6:])
        for raw in trace.spans
    ]
    return new


class _Body:
    """A response body a trace held, to summarise again for each pass."""

    def __init__(self, summary: Any) -> None:
        self.size, self.as_json = summary.bytes, summary._json
        self.body = b"".join(summary._chunks)

    def summary(self) -> Any:
        from perfdoctor.capture.response import BodySummary

        return BodySummary(self.size, [self.body], self.as_json)


def _list_app_traces(library: str, requests: int) -> list[Any]:
    """Finished traces of ``requests`` requests to a list app (``app_cpu.py``'s)."""
    sys.path.insert(0, str(HERE / "apps"))
    os.environ["BENCH_DB"] = str(Path(tempfile.mkdtemp(prefix="pd-encode-app-")) / "bench.db")
    import app_cpu

    import perfdoctor
    from perfdoctor.capture import context

    perfdoctor.instrument(traces=Path(os.environ["BENCH_DB"]).with_name("traces.db"))
    one = app_cpu.list_app("django" if library == "drf-list" else "fastapi")
    for _ in range(20):  # call sites and statements met before
        one()
    kept: list[Any] = []
    context.state.on_finish = kept.append
    for _ in range(requests):
        one()
    context.state.on_finish = None
    return kept


def worker(library: str, requests: int, queries: int, passes: int) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from perfdoctor import store
    from perfdoctor.capture import context, recorder
    from perfdoctor.capture.encode import Encoder

    if library in LIST_APPS:
        kept = _list_app_traces(library, requests)
    else:
        import capture_overhead

        tracing = capture_overhead.PerfdoctorTracing(Path(tempfile.mkdtemp(prefix="pd-encode-")))
        workload = capture_overhead.WORKLOADS[library]("perfdoctor")
        around = tracing.request if workload.own_trace else tracing.block
        kept = []
        context.state.on_finish = kept.append
        start = 0
        for _ in range(requests):
            with around():
                workload.block(queries, start)
            start += queries
        context.state.on_finish = None
    _deterministic(kept)
    spans = sum(len(trace.spans) for trace in kept)
    size = recorder.MAX_BATCH_TRACES

    # The rows a fresh encoder writes, as the store holds them.
    folder = Path(tempfile.mkdtemp(prefix="pd-encode-rows-"))
    conn = store.open_for_writing(folder / "rows.db")
    encoder = Encoder()
    retention = recorder.retention.Retention(None)
    write_cpu = []
    for at in range(0, len(kept), size):
        batch = store.Batch()
        for trace in kept[at : at + size]:
            encoder.add(_copy(trace), batch)
        cpu0 = time.thread_time()
        store.write_batch(conn, batch, attempts=1)
        encoder.committed(batch)
        retention.after_write(conn, encoder)
        write_cpu.append(time.thread_time() - cpu0)
    digest = hashlib.sha256()
    for table, order in (
        ("traces", "id"),
        ("stacks", "id"),
        ("statements", "fingerprint"),
        ("orm_catalogs", "id"),
    ):
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY {order}"):
            if table == "traces":  # but the process id
                row = (*row[:6], 0, *row[7:])
            digest.update(repr(row).encode())
    conn.close()

    timings = []
    for _ in range(passes + 1):
        copies = [_copy(trace) for trace in kept]
        cpu = 0.0
        for at in range(0, len(copies), size):
            batch = store.Batch()
            chunk = copies[at : at + size]
            cpu0 = time.thread_time()
            for trace in chunk:
                encoder.add(trace, batch)
            cpu += time.thread_time() - cpu0
            encoder.committed(batch)
        timings.append(cpu * 1e6 / spans)
    shipping = _ship(kept, passes)
    return {
        "spans": spans,
        "traces": len(kept),
        "ship_us_per_span": shipping,
        "us_per_span": timings[1:],  # the first pass warms the caches
        "write_ms": statistics.median(write_cpu) * 1e3,
        "digest": digest.hexdigest(),
    }


def _ship(traces: list[Any], passes: int) -> list[float]:
    """The sketch of a writer process's sending side, CPU per span: a compact
    record per span (numbers; ids of the frames list and statement, their
    content sent once), ``marshal`` and one ``os.write`` per trace to a pipe
    that another process drains.  A lower bound: no framing, no back-pressure."""
    import marshal
    import subprocess as sp

    drain = sp.Popen(["cat"], stdin=sp.PIPE, stdout=sp.DEVNULL)
    assert drain.stdin is not None
    fd = drain.stdin.fileno()
    frames_ids: dict[int, tuple[int, list[Any]]] = {}
    sql_ids: dict[Any, int] = {}
    timings = []
    spans = sum(len(trace.spans) for trace in traces)
    for _ in range(passes + 1):
        cpu0 = time.thread_time()
        for trace in traces:
            new: list[Any] = []
            records: list[Any] = []
            for raw in trace.spans:
                frames = raw[3]
                found = frames_ids.get(id(frames))
                if found is None or found[1] is not frames:
                    found = frames_ids[id(frames)] = (len(frames_ids), frames)
                    new.append((found[0], [(c.co_filename, c.co_name, o) for c, o in frames]))
                if raw[0] == "db":
                    sql = raw[6]
                    sid = sql_ids.get(sql)
                    if sid is None:
                        sid = sql_ids[sql] = len(sql_ids)
                        new.append((sid, sql))
                    nrows = raw[9]
                    records.append(
                        (raw[1], raw[2], found[0], raw[4], raw[5], sid, raw[7],
                         nrows[0] if type(nrows) is list else nrows, raw[10])
                    )
                else:
                    records.append((raw[0], raw[1], raw[2], found[0], raw[4]))
            os.write(fd, marshal.dumps((trace.id, trace.name, trace.started_at, new, records)))
        timings.append((time.thread_time() - cpu0) * 1e6 / spans)
    drain.stdin.close()
    drain.wait()
    return timings[1:]


def spawn(src: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(src), PYTHONHASHSEED="0")
    env["PERFDOCTOR_DIGEST_KEY"] = "00" * 16
    command = [
        sys.executable, __file__, "--worker", "--library", args.library,
        "--requests", str(args.requests), "--queries", str(args.queries),
        "--passes", str(args.passes),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--library", choices=("sqlite3", "sqlalchemy", "django", *LIST_APPS), default="sqlalchemy"
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--passes", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before-src", help="another copy of the package's src, measured too")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.library, args.requests, args.queries, args.passes)))
        return
    trees = [("this", SRC)]
    if args.before_src:
        trees.insert(0, ("before", Path(args.before_src).resolve()))
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in trees}
    for round_ in range(args.rounds):
        order = trees if round_ % 2 == 0 else trees[::-1]
        for name, src in order:
            runs[name].append(spawn(src, args))
    summary: dict[str, Any] = {"library": args.library, "load": os.getloadavg(), "trees": {}}
    for name, results in runs.items():
        summary["trees"][name] = {
            "us_per_span": statistics.median(x for r in results for x in r["us_per_span"]),
            "round_medians": [statistics.median(r["us_per_span"]) for r in results],
            "write_ms": statistics.median(r["write_ms"] for r in results),
            "spans": results[0]["spans"],
            "digests": sorted({r["digest"][:16] for r in results}),
            "ship_us_per_span": statistics.median(
                x for r in results for x in r.get("ship_us_per_span", [])
            ),
        }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    queries = "" if args.library in LIST_APPS else f" of {args.queries} queries"
    print(f"{args.library}: {args.requests} requests{queries}, "
          f"load average {' '.join(f'{x:.2f}' for x in summary['load'])}")
    for name, row in summary["trees"].items():
        rounds = " ".join(f"{x:.3f}" for x in row["round_medians"])
        print(f"  {name:<7} Encoder.add {row['us_per_span']:.3f} µs CPU/span (rounds {rounds}); "
              f"a batch's write {row['write_ms']:.2f} ms CPU; rows {','.join(row['digests'])}")
    ship = statistics.median(t["ship_us_per_span"] for t in summary["trees"].values())
    print(f"  a writer process's sending side (sketch): {ship:.3f} µs CPU/span")
    if args.before_src:
        before, this = summary["trees"]["before"], summary["trees"]["this"]
        same = before["digests"] == this["digests"] and len(this["digests"]) == 1
        print(f"  this / before: {this['us_per_span'] / before['us_per_span']:.3f}; "
              f"rows {'identical' if same else 'DIFFER'}")


if __name__ == "__main__":
    main()
