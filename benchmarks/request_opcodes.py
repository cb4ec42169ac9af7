"""perfdoctor's own Python opcodes on the request thread, per request, per function.

An exact count (no clock, no noise) of the work the capture adds in Python: each
instruction of a perfdoctor file is counted (``sys.monitoring`` on Python 3.12+,
``sys.settrace`` with ``f_trace_opcodes`` before) while the list apps of
``request_instructions.py`` serve requests in-process with each finished trace
dropped (its ``nowriter`` mode); ``--app sqlite3`` is a loop of raw sqlite3 point
lookups in one trace, counted per query.  C work (frame objects, ``f_locals``,
dicts, the garbage collector) is not counted: see ``request_instructions.py``
for all instructions.  ``--frames`` also counts ``sys._getframe`` calls of the
call-site search, per request::

    python benchmarks/request_opcodes.py --app django
    PYTHONPATH=OTHER/src python benchmarks/request_opcodes.py --app django   # another tree

``--wsgi MODULE:APP`` counts a WSGI app of one's own over its ``--path`` pages
(``wsgi_pages.py``), run with the app's own interpreter::

    ../mysite/.venv/bin/python benchmarks/request_opcodes.py --wsgi mysite.wsgi:application \
        --cwd ../mysite --env DJANGO_SETTINGS_MODULE=mysite.settings --path / --frames
"""

from __future__ import annotations

import argparse
import collections
import os
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import wsgi_pages  # noqa: E402 - a sibling script, found through the path above


def _driver(app: str, folder: Path) -> tuple[Callable[[], Any], int]:
    """One request (or block of queries) and the number of queries it runs."""
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE / "apps"))
    os.environ["BENCH_DB"] = str(folder / "bench.db")
    import app_cpu

    if app == "django":
        import list_django

        list_django.seed()
        return app_cpu._django_driver(list_django), app_cpu.QUERIES[app]
    if app == "django-orm":
        import request_instructions

        return request_instructions.django_orm_driver(), 100
    if app == "fastapi":
        import list_fastapi

        list_fastapi.seed()
        return app_cpu._fastapi_driver(list_fastapi), app_cpu.QUERIES[app]
    import perfdoctor

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, str(i)) for i in range(1000)])

    def lookup(cursor: sqlite3.Cursor, i: int) -> Any:
        cursor.execute("SELECT v FROM t WHERE id = ?", (i,))
        return cursor.fetchone()

    def block() -> None:
        with perfdoctor.trace("block"):
            cursor = conn.cursor()
            for i in range(100):
                lookup(cursor, i)

    return block, 100


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    apps = ("django", "fastapi", "sqlite3", "django-orm")
    parser.add_argument("--app", choices=apps, default="django")
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--top", type=int, default=15, help="functions listed")
    parser.add_argument(
        "--undrawn",
        action="store_true",
        help="as a request --sample leaves out (not drawn, neither slow nor failed)",
    )
    parser.add_argument(
        "--summary", action="store_true", help="with --undrawn: under --sample-tail summary"
    )
    wsgi_pages.add_arguments(parser, spawns=False)
    parser.add_argument(
        "--frames", action="store_true", help="also count the call-site search's frame lookups"
    )
    args = parser.parse_args(argv)
    os.environ.update(wsgi_pages.environment(args.env))

    import perfdoctor
    from perfdoctor.capture import context, machine

    folder = Path(tempfile.mkdtemp(prefix="perfdoctor-opcodes-"))
    perfdoctor.instrument(traces=folder / "traces.db")
    machine.INTERVAL_S = 1e9  # the load reading, once a second of wall time: pinned
    context.state.on_finish = lambda trace: None
    if args.undrawn:
        sys.path.insert(0, str(HERE))
        import capture_overhead

        capture_overhead.leave_out_requests(context.state, summary=args.summary)
    if args.wsgi:
        paths = args.path or ["/"]
        one, queries = wsgi_pages.driver(args.wsgi, paths, args.cwd, args.header), 0
    else:
        paths = [""]
        one, queries = _driver(args.app, folder)
    for _ in range(args.warmup):
        one()

    package = os.path.dirname(perfdoctor.__file__) + os.sep
    opcodes: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    frames = [0]
    if args.frames:
        from perfdoctor import callsite

        getframe = callsite._getframe

        def counted(depth: int = 0) -> FrameType:
            frames[0] += 1
            return getframe(depth + 1)

        callsite._getframe = counted
        if callsite.capture_caller is not callsite.python_capture_caller:
            # The compiled first try looks frames up too (its opcodes are not counted).
            from perfdoctor import _speedups

            _speedups.bind(vars(callsite), counted)
    stop = _count_opcodes(package, opcodes, calls)
    try:
        for _ in range(args.requests):
            one()
    finally:
        stop()
        perfdoctor.uninstrument()
    per = args.requests * len(paths)
    total = sum(opcodes.values()) / per
    per_query = args.app in ("sqlite3", "django-orm")
    unit = "block of 100 queries" if per_query and not args.wsgi else "request"
    what = f"{args.wsgi} {' '.join(paths)}" if args.wsgi else args.app
    print(f"{what}: perfdoctor's opcodes per {unit}: {total:.0f}", end="")
    print(f" ({total / queries:.0f} a query)" if queries else "")
    if args.frames:
        print(f"  frames looked up by the call-site search per {unit}: {frames[0] / per:.0f}")
    print(f"  {'opcodes':>8} {'calls':>6}  function")
    for name, count in opcodes.most_common(args.top):
        print(f"  {count / per:8.0f} {calls[name] / per:6.1f}  {name}")


def _count_opcodes(
    package: str, opcodes: collections.Counter[str], calls: collections.Counter[str]
) -> Callable[[], None]:
    """Count the instructions and calls of every function in ``package``, by name,
    in every thread, until the returned function is called."""
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is not None:
        # Python 3.12+: settrace's opcode events are not delivered for a frame that
        # turns them on in its own call event.
        tool = monitoring.PROFILER_ID
        monitoring.use_tool_id(tool, "request_opcodes")
        events = monitoring.events

        def on_instruction(code: CodeType, offset: int) -> Any:
            if not code.co_filename.startswith(package):
                return monitoring.DISABLE
            opcodes[code.co_qualname] += 1
            return None

        def on_start(code: CodeType, offset: int) -> Any:
            if not code.co_filename.startswith(package):
                return monitoring.DISABLE
            calls[code.co_qualname] += 1
            return None

        monitoring.register_callback(tool, events.INSTRUCTION, on_instruction)
        monitoring.register_callback(tool, events.PY_START, on_start)
        monitoring.set_events(tool, events.INSTRUCTION | events.PY_START)

        def stop_monitoring() -> None:
            monitoring.set_events(tool, 0)
            monitoring.free_tool_id(tool)

        return stop_monitoring

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        code = frame.f_code
        if not code.co_filename.startswith(package):
            return None
        name = getattr(code, "co_qualname", code.co_name)
        calls[name] += 1
        frame.f_trace_opcodes = True

        def local(frame: FrameType, event: str, arg: Any) -> Any:
            if event == "opcode":
                opcodes[name] += 1
            return local

        return local

    sys.settrace(tracer)
    threading.settrace(tracer)

    def stop_tracing() -> None:
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]

    return stop_tracing


if __name__ == "__main__":
    main()
