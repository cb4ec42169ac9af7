"""Store size: bytes per request and per span in the trace store, and where they go.

    python benchmarks/store_size.py            # about 2 minutes
    python benchmarks/store_size.py --quick    # a smoke run in seconds
    python benchmarks/store_size.py --json     # the same figures as JSON on stdout

Two workloads are captured with the real capture into fresh stores:

* ``orm``: a Flask + SQLAlchemy app on SQLite, requested through Flask's test
  client in a worker process that called ``perfdoctor.instrument()``.  Three
  endpoints in turn: a point lookup (1 query), a page of 9 articles reading
  each one's author (an N+1: 10 queries) and a page of 59 (60 queries), each
  request with other ids, so every query has its own parameters digest;
* ``demo``: the bundled demo app (``perfdoctor audit``: a real server under
  ``perfdoctor run``, every endpoint of every area, ``--demo-rounds`` times, 10 by default),
  for the mix of span kinds (HTTP, cache, ORM eager loads, triggers).

For each store: the file's size after a checkpoint, per request and per span;
the bytes of each table and index (SQLite's ``dbstat``: pages, payload, unused
space); the bytes of each text column of ``traces``; and, inside the spans
column, the bytes of each field (the JSON each one takes, separators included).

Then ``report`` time on the ``orm`` store: the median CPU time (and wall time)
of ``--report-runs`` runs of ``perfdoctor report --format json``, its peak RSS,
and the CPU time of loading the store alone (``store.load_traces``), each in a
fresh process.  CPU time, because wall time on a shared machine measures the
neighbours.

Workers and reports inherit ``PYTHONPATH``, so another copy of perfdoctor can
be measured (``PYTHONPATH=/other/src python benchmarks/store_size.py``).
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

# The columns of a schema-3 span row, in stored order (a newer store says its own).
OLD_SPAN_FIELDS = (
    "kind",
    "start_ms",
    "duration_ms",
    "framework",
    "system",
    "fingerprint",
    "params_digest",
    "rows",
    "connection_id",
    "stack_id",
    "attrs",
)
# Queries per request of the orm workload's three endpoints.
PAGES = {"GET /articles/{id}": 1, "GET /page/9": 10, "GET /page/59": 60}
AUTHORS = 500
TIMEOUT = 900.0


# --------------------------------------------------------------------------- worker


def worker(traces: Path, requests: int, database: Path) -> None:
    """The orm workload: seed, instrument, request, flush (run in its own process)."""
    from sqlalchemy import Column, ForeignKey, Integer, String, create_engine, select
    from sqlalchemy.orm import Session, declarative_base, relationship

    # Classic columns: the annotations of this module are strings (__future__).
    Base = declarative_base()

    class Author(Base):
        __tablename__ = "authors"
        id = Column(Integer, primary_key=True)
        name = Column(String)

    class Article(Base):
        __tablename__ = "articles"
        id = Column(Integer, primary_key=True)
        title = Column(String)
        author_id = Column(Integer, ForeignKey("authors.id"))
        author = relationship(Author)

    for stale in (database, traces):
        stale.unlink(missing_ok=True)
    seeding = create_engine(f"sqlite:///{database}")
    Base.metadata.create_all(seeding)
    with Session(seeding) as session:
        session.add_all(Author(id=i, name=f"author {i}") for i in range(1, AUTHORS + 1))
        # Article i is by author i: a page's lazy loads are all distinct queries.
        session.add_all(
            Article(id=i, title=f"article {i}", author_id=i) for i in range(1, AUTHORS + 1)
        )
        session.commit()
    seeding.dispose()

    import perfdoctor

    perfdoctor.instrument(traces=traces)
    # Created under capture: its pool's connections are the traced ones.
    engine = create_engine(f"sqlite:///{database}")
    from flask import Flask, jsonify

    app = Flask(__name__)

    @app.get("/articles/<int:article_id>")
    def article(article_id: int) -> Any:
        with Session(engine) as session:
            found = session.get(Article, article_id)
            return jsonify({"id": article_id, "title": found.title if found else None})

    def page(size: int) -> Any:
        from flask import request

        offset = int(request.args.get("from", "0"))
        with Session(engine) as session:
            rows = session.scalars(
                select(Article).order_by(Article.id).limit(size).offset(offset)
            ).all()
            return jsonify([{"title": a.title, "author": a.author.name} for a in rows])

    @app.get("/page/9")
    def page_of_9() -> Any:
        return page(9)

    @app.get("/page/59")
    def page_of_59() -> Any:
        return page(59)

    client = app.test_client()
    for i in range(requests):
        which = i % 3
        start = (i * 7) % (AUTHORS - 60)
        if which == 0:
            client.get(f"/articles/{start + 1}")
        else:
            client.get(f"/page/{9 if which == 1 else 59}?from={start}")
    perfdoctor.uninstrument()


# --------------------------------------------------------------------------- capture


def _python(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=TIMEOUT, **kwargs
    )


def capture_orm(folder: Path, requests: int) -> Path:
    traces = folder / "orm.db"
    result = _python(
        __file__, "--worker", str(traces), str(requests), str(folder / "orm-app.db")
    )
    if result.returncode != 0:
        raise SystemExit(f"the orm worker failed:\n{result.stderr}")
    return traces


def capture_demo(folder: Path, rounds: int) -> Path:
    traces = folder / "demo.db"
    result = _python(
        "-m", "perfdoctor", "audit", "--traces", str(traces), "--format", "json",
        "--rounds", str(rounds), cwd=folder,
    )
    if result.returncode not in (0, 1):  # 1: the demo has findings, as it should
        raise SystemExit(f"perfdoctor audit failed:\n{result.stderr}")
    return traces


# --------------------------------------------------------------------------- sizes


def checkpointed_size(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


# Schema 4: each distinct span shape once per trace, a short row per span.
SHAPE_FIELDS = ("kind", "framework", "system", "fingerprint", "connection_id", "stack_id", "attrs")
ROW_FIELDS = ("shape", "start_us", "duration_us", "params_digest", "rows")


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def span_field_bytes(text: Any) -> tuple[int, Counter[str]]:
    """How many spans a stored value holds, and the bytes of each field in it."""
    if isinstance(text, bytes):
        text = zlib.decompress(text).decode("utf-8")
    value = json.loads(text)
    fields: Counter[str] = Counter()
    if isinstance(value, list):  # schema 3: an array of full rows
        for row in value:
            for name, item in zip(OLD_SPAN_FIELDS, row):
                fields[name] += len(json.dumps(item)) + 2  # ", " after each
        return len(value), fields
    for group, names in (("shapes", SHAPE_FIELDS), ("spans", ROW_FIELDS)):
        for row in value[group]:
            fields[f"{group}: brackets"] += 2
            for name, item in zip(names, row):
                fields[f"{group}: {name}"] += _json_bytes(item) + 1  # "," after each
    return len(value["spans"]), fields


def measure(path: Path) -> dict[str, Any]:
    size = checkpointed_size(path)
    with closing(sqlite3.connect(path)) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0] * page_size
        traces = conn.execute("SELECT count(*) FROM traces").fetchone()[0]
        objects: dict[str, dict[str, int]] = {}
        try:
            for name, pages, payload, unused in conn.execute(
                "SELECT name, sum(pgsize), sum(payload), sum(unused) FROM dbstat GROUP BY name"
            ):
                objects[name] = {"bytes": pages, "payload": payload, "unused": unused}
        except sqlite3.OperationalError:  # an SQLite built without dbstat
            pass
        columns = {
            column: conn.execute(f"SELECT sum(length({column})) FROM traces").fetchone()[0] or 0
            for column in ("id", "name", "kind", "attrs", "spans")
        }
        for table, column in (("stacks", "frames"), ("statements", "statement")):
            columns[f"{table}.{column}"] = (
                conn.execute(f"SELECT sum(length({column})) FROM {table}").fetchone()[0] or 0
            )
        fields: Counter[str] = Counter()
        spans = 0
        per_name: dict[str, list[int]] = {}
        values: list[bytes] = []
        for name, attrs, text in conn.execute("SELECT name, attrs, spans FROM traces"):
            count, parts = span_field_bytes(text)
            spans += count
            fields.update(parts)
            stored = len(text) + len(attrs)
            per_name.setdefault(name, []).append(stored)
            values.append(text.encode("utf-8") if isinstance(text, str) else text)
    # What grows with every request: the traces table and its two indexes (stacks and
    # statements grow with call sites; a fresh store's other tables are a page each).
    growing = sum(
        objects.get(name, {}).get("bytes", 0)
        for name in ("traces", "sqlite_autoindex_traces_1", "traces_name")
    )
    return {
        "schema": version,
        "file_bytes": size,
        "traces_table_bytes": growing,
        "traces_table_bytes_per_span": round(growing / spans, 1) if spans else None,
        "free_bytes": free,
        "traces": traces,
        "spans": spans,
        "bytes_per_request": round(size / traces, 1) if traces else None,
        "bytes_per_span": round(size / spans, 1) if spans else None,
        "objects": objects,
        "columns": columns,
        "span_fields": dict(fields.most_common()),
        "zlib": compressed(values),
        "row_bytes_by_name": {
            name: round(statistics.mean(sizes)) for name, sizes in sorted(per_name.items())
        },
    }


def compressed(values: list[bytes]) -> dict[str, Any]:
    """What zlib would make of the spans column: bytes, and µs per trace to compress."""
    out: dict[str, Any] = {"raw_bytes": sum(map(len, values))}
    for level in (1, 6):
        started = time.process_time()
        size = sum(len(zlib.compress(value, level)) for value in values)
        spent = time.process_time() - started
        out[f"level{level}_bytes"] = size
        out[f"level{level}_us_per_trace"] = round(spent * 1e6 / max(1, len(values)), 1)
    return out


# --------------------------------------------------------------------------- reading


def time_report(path: Path, runs: int) -> dict[str, Any]:
    reports, report_cpu, loads, rss = [], [], [], []
    for _ in range(runs):
        started, cpu = time.perf_counter(), _children_cpu()
        result = _python("-c", REPORT, str(path))
        reports.append(time.perf_counter() - started)
        report_cpu.append(_children_cpu() - cpu)
        if result.returncode != 0:
            raise SystemExit(f"perfdoctor report failed:\n{result.stderr}")
        rss.append(int(result.stdout))
        loads.append(float(_python("-c", LOAD, str(path), check=True).stdout))
    return {
        "report_s": round(statistics.median(reports), 3),
        "report_runs_s": [round(r, 3) for r in reports],
        "report_cpu_s": round(statistics.median(report_cpu), 3),
        "report_cpu_runs_s": [round(r, 3) for r in report_cpu],
        "report_peak_rss_mb": round(max(rss) / 1024, 1),
        "load_cpu_s": round(statistics.median(loads), 3),
        "load_cpu_runs_s": [round(r, 3) for r in loads],
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# `perfdoctor report --format json` (output dropped), then the process's peak RSS in kB.
REPORT = """
import contextlib, io, resource, runpy, sys
sys.argv = ["perfdoctor", "report", "--traces", sys.argv[1], "--format", "json"]
with contextlib.redirect_stdout(io.StringIO()):
    try:
        runpy.run_module("perfdoctor", run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (0, 1, None):
            raise
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
# load_traces alone: its CPU seconds.
LOAD = """
import sys, time
from pathlib import Path
from perfdoctor import store
started = time.process_time()
store.load_traces(Path(sys.argv[1]))
print(time.process_time() - started)
"""


# --------------------------------------------------------------------------- output


def print_table(name: str, figures: dict[str, Any]) -> None:
    print(f"\n## {name}: schema {figures['schema']}")
    print(
        f"{figures['traces']} traces, {figures['spans']} spans, "
        f"{figures['file_bytes']:,} bytes after a checkpoint "
        f"({figures['free_bytes']:,} free): "
        f"{figures['bytes_per_request']} bytes/request, {figures['bytes_per_span']} bytes/span; "
        f"the traces table and its indexes {figures['traces_table_bytes']:,} bytes, "
        f"{figures['traces_table_bytes_per_span']} bytes/span"
    )
    print("\n| table / index | bytes | payload | unused |\n| --- | ---: | ---: | ---: |")
    for obj, sizes in sorted(figures["objects"].items(), key=lambda kv: -kv[1]["bytes"]):
        print(f"| {obj} | {sizes['bytes']:,} | {sizes['payload']:,} | {sizes['unused']:,} |")
    print("\n| column | bytes |\n| --- | ---: |")
    for column, size in figures["columns"].items():
        print(f"| {column} | {size:,} |")
    spans = figures["spans"] or 1
    print("\n| in the spans column | bytes | per span |\n| --- | ---: | ---: |")
    for field, size in figures["span_fields"].items():
        print(f"| {field} | {size:,} | {size / spans:.1f} |")
    z = figures["zlib"]
    print(
        f"\nzlib on the spans column: {z['raw_bytes']:,} bytes -> level 1 {z['level1_bytes']:,} "
        f"({z['level1_us_per_trace']} µs/trace), level 6 {z['level6_bytes']:,} "
        f"({z['level6_us_per_trace']} µs/trace)"
    )
    print("\n| trace name | spans + attrs bytes per trace |\n| --- | ---: |")
    for trace_name, size in figures["row_bytes_by_name"].items():
        print(f"| {trace_name} | {size:,} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: small stores, 1 run")
    parser.add_argument("--json", action="store_true", help="figures as JSON on stdout")
    parser.add_argument("--requests", type=int, default=3000, help="orm workload requests")
    parser.add_argument("--demo-rounds", type=int, default=10, help="0 skips the demo workload")
    parser.add_argument("--report-runs", type=int, default=5)
    parser.add_argument("--keep", metavar="DIR", help="capture into DIR and keep the stores")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(Path(args.worker[0]), int(args.worker[1]), Path(args.worker[2]))
        return
    if args.quick:
        args.requests, args.demo_rounds, args.report_runs = 30, 0, 1
    with tempfile.TemporaryDirectory(prefix="perfdoctor-store-size-") as scratch:
        folder = Path(args.keep) if args.keep else Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        results: dict[str, Any] = {"workloads": {}}
        orm = capture_orm(folder, args.requests)
        results["workloads"]["orm"] = measure(orm)
        if args.demo_rounds:
            results["workloads"]["demo"] = measure(capture_demo(folder, args.demo_rounds))
        results["reading"] = time_report(orm, args.report_runs)
    if args.json:
        json.dump(results, sys.stdout, indent=1)
        print()
        return
    for name, figures in results["workloads"].items():
        print_table(name, figures)
    reading = results["reading"]
    print(
        f"\nreport on the orm store: {reading['report_cpu_s']} s CPU (median of "
        f"{reading['report_cpu_runs_s']}), {reading['report_s']} s wall (median of "
        f"{reading['report_runs_s']}), peak RSS {reading['report_peak_rss_mb']} MB; "
        f"load_traces alone {reading['load_cpu_s']} s CPU (median of "
        f"{reading['load_cpu_runs_s']})"
    )



if __name__ == "__main__":
    main()
