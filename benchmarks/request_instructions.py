"""Instructions per request of the ~40-query list apps, counted by valgrind.

Wall and CPU clocks on a shared machine move by more than a request's capture
costs (``app_overhead.py``'s quartiles span tens of percent there, ``app_cpu.py``
±0.5-1 ms); the number of instructions a request executes does not.  Each side
(a mode, from this tree or ``--before-src``) runs under ``valgrind
--tool=callgrind`` twice, with ``--small`` and ``--large`` requests after the same
warm-up; the difference over ``large - small`` requests is the side's
instructions per request, start-up and seeding cancelled out::

    python benchmarks/request_instructions.py --app django --before-src OTHER/src

``--app sqlite3`` is a "request" of 100 raw sqlite3 point lookups (in one trace
when captured), ``--app django-orm`` a Django request of 100 ORM point lookups
(``hot_path.py``'s Django workload): their figures read per query.

``--wsgi MODULE:APP`` counts a WSGI app of one's own instead (``wsgi_pages.py``),
page by page over the ``--path`` pages, in its own interpreter (``--python``,
which must have perfdoctor installed) from its folder (``--cwd``)::

    python benchmarks/request_instructions.py --wsgi bakerydemo.wsgi:application \
        --cwd ../bakerydemo --python ../bakerydemo/.venv/bin/python \
        --env DJANGO_SETTINGS_MODULE=bakerydemo.settings.dev --path /breads/ \
        --small 5 --large 25 --warmup 20 --before-src OTHER/src

Modes as in ``app_cpu.py``: ``bare`` (perfdoctor not imported), ``nowriter`` (the
request thread's share: each finished trace dropped), ``undrawn`` (``--sample``'s
usual request: left out by the head draw, neither slow nor failed), ``summary`` (the
same under ``--sample-tail summary``: not captured), ``off`` (instrumented while
the app loads, then switched off: the wrappers in place), ``perfdoctor`` (the
recorder too; its batches depend on timing, so its count moves from run to run
by up to a few percent), ``batched`` (the recorder as under steady traffic: its
timed cycle left out, every trace encoded and written in the final flush, one
transaction per ``MAX_BATCH_TRACES``: a count that does not follow the wall
clock).  Under valgrind a request is ~50x slower: the default 50 requests per
side take a few minutes.  The callgrind files are kept with
``--keep DIR`` (``callgrind_annotate`` attributes the difference to C functions).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import capture_overhead  # noqa: E402 - a sibling script, found through the path above
import wsgi_pages  # noqa: E402

QUERIES = {"django": 43, "fastapi": 40, "sqlite3": 100, "django-orm": 100}


def _sqlite3_driver(traced: bool) -> Any:
    """A "request" of 100 raw sqlite3 point lookups, in one trace when ``traced``."""
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, str(i)) for i in range(1000)])

    def lookup(cursor: Any, i: int) -> Any:
        cursor.execute("SELECT v FROM t WHERE id = ?", (i,))
        return cursor.fetchone()

    def block() -> None:
        cursor = conn.cursor()
        for i in range(QUERIES["sqlite3"]):
            lookup(cursor, i)

    if not traced:
        return block
    import perfdoctor

    def traced_block() -> None:
        with perfdoctor.trace("block"):
            block()

    return traced_block


def django_orm_driver() -> Any:
    """A Django request of 100 ORM point lookups (``hot_path.py``'s Django
    workload), so its figures read per query through the ORM."""
    work = capture_overhead.WORKLOADS["django"]("perfdoctor")
    return lambda: work.block(QUERIES["django-orm"], 0)


def run_worker(
    app: str,
    mode: str,
    requests: int,
    warmup: int,
    wsgi: tuple[str, list[str], str | None, list[str]] | None,
) -> None:
    sys.path.insert(0, str(HERE))

    with tempfile.TemporaryDirectory(prefix="perfdoctor-instr-") as folder:
        os.environ["BENCH_DB"] = str(Path(folder) / "bench.db")
        sys.path.insert(0, str(HERE / "apps"))
        perfdoctor: Any = None
        if mode != "bare":
            import perfdoctor
            from perfdoctor.capture import context

            perfdoctor.instrument(traces=Path(folder) / "traces.db")
            # The machine's load is read once a second of wall time: valgrind's
            # slowness, and how busy the machine is, would decide how often.
            from perfdoctor.capture import machine

            machine.INTERVAL_S = 1e9
            if mode == "nowriter":
                context.state.on_finish = lambda trace: None
            elif mode == "batched":
                # The recorder as under steady traffic, where a cycle takes a
                # second's traces in one batch (BUSY_INTERVAL): its thread never
                # wakes here, and the flush at the end encodes and writes every
                # trace, as one transaction per MAX_BATCH_TRACES.  Under valgrind
                # (~50x slower) its timed cycle found one trace a cycle instead,
                # each paying a transaction's fixed cost.
                from perfdoctor.capture import recorder

                recorder.FLUSH_INTERVAL = recorder.BUSY_INTERVAL = 1e9
            elif mode in ("undrawn", "summary"):
                # ``--sample``'s common case: the head draw leaves the request out
                # and it is neither slow nor failed, so it is counted and dropped
                # (``summary``: under ``--sample-tail summary``, not captured at all).
                capture_overhead.leave_out_requests(context.state, summary=mode == "summary")
        if wsgi is not None:
            one = wsgi_pages.driver(*wsgi)
        elif app == "sqlite3":
            one = _sqlite3_driver(perfdoctor is not None)
        elif app == "django-orm":
            one = django_orm_driver()
        else:
            import app_cpu

            one = app_cpu.list_app(app)
        if mode == "off":
            # Its wrappers installed while the app loaded, then switched off.
            perfdoctor.uninstrument()
        for _ in range(warmup + requests):
            one()
        if perfdoctor is not None and mode != "off":
            perfdoctor.uninstrument()


def _count(app: str, mode: str, src: str | None, requests: int, args: Any, out: Path) -> int:
    env = capture_overhead.worker_env()
    env["PYTHONHASHSEED"] = "0"
    if src is not None:
        env["PYTHONPATH"] = src
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        args.python or sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        app,
        mode,
        "--requests",
        str(requests),
        "--warmup",
        str(args.warmup),
    ]
    command += wsgi_pages.worker_options(args, env)
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{app}/{mode} ({src or 'this tree'}) failed:\n{done.stderr[-3000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", choices=tuple(QUERIES), default="django")
    parser.add_argument(
        "--mode",
        action="append",
        choices=("bare", "off", "nowriter", "undrawn", "summary", "perfdoctor", "batched"),
    )
    parser.add_argument("--before-src", help="another copy of the package's src, counted too")
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--large", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2, help="valgrind runs at once")
    parser.add_argument("--keep", help="keep the callgrind files in this folder")
    wsgi_pages.add_arguments(parser, spawns=True)
    parser.add_argument(
        "--queries", type=int, help="with --wsgi: queries a page, for per-query figures"
    )
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        wsgi = (args.wsgi, args.path or ["/"], args.cwd, args.header) if args.wsgi else None
        run_worker(args.worker[0], args.worker[1], args.requests, args.warmup, wsgi)
        return
    if args.wsgi:
        args.app = "wsgi"
        wsgi_pages.environment(args.env)  # a malformed one stops here, not in valgrind
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")
    modes = args.mode or ["bare", "nowriter"]
    sides = [(m, m, None) for m in modes]
    if args.before_src:
        sides += [(f"{m}-before", m, args.before_src) for m in modes if m != "bare"]
    keep = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="perfdoctor-cg-"))
    keep.mkdir(parents=True, exist_ok=True)
    runs = [(side, n) for side in sides for n in (args.small, args.large)]
    with ThreadPoolExecutor(args.jobs) as pool:
        counts = list(
            pool.map(
                lambda run: _count(
                    args.app,
                    run[0][1],
                    run[0][2],
                    run[1],
                    args,
                    keep / f"callgrind.{args.app}.{run[0][0]}.{run[1]}",
                ),
                runs,
            )
        )
    per: dict[str, float] = {}
    pages = len(args.path or ["/"]) if args.wsgi else 1
    for i, (name, _mode, _src) in enumerate(sides):
        small, large = counts[2 * i], counts[2 * i + 1]
        per[name] = (large - small) / (args.large - args.small) / pages
    what = f"{args.wsgi} {' '.join(args.path or ['/'])}" if args.wsgi else args.app
    print(f"{what}: instructions per request ({args.large} - {args.small} requests)")
    queries = args.queries if args.wsgi else QUERIES[args.app]
    bare = per.get("bare")
    for name, value in per.items():
        extra = ""
        if bare is not None and name != "bare":
            over = value - bare
            extra = f"  +{over / 1e6:.3f} M  (+{100 * over / bare:.2f} %"
            extra += f", {over / queries / 1e3:.1f} k a query)" if queries else ")"
        print(f"  {name:18} {value / 1e6:9.3f} M{extra}")
    if not args.keep:
        shutil.rmtree(keep, ignore_errors=True)


if __name__ == "__main__":
    main()
