"""CPU per request of the ~40-query list apps, served in-process: bare against
``perfdoctor.instrument()``, with and without its recorder.

``app_overhead.py`` measures p50 latency through real servers, which a busy
shared machine blurs (its quartiles span tens of percent there).  This one calls
the same apps (``apps/list_django.py`` as a WSGI callable, ``apps/list_fastapi.py``
as an ASGI callable) from one process, with no server and no sockets, and counts
the CPU time of the whole process (every thread: the ASGI app's thread pool, the
recorder), which other processes on the machine do not add to::

    python benchmarks/app_cpu.py                              # both apps
    python benchmarks/app_cpu.py --app fastapi --before-src OTHER/src

Modes, each a process of its own, rotating across ``--rounds``: ``bare`` (perfdoctor
not imported), ``perfdoctor`` (captured and written to a store, flushed before the
clock stops) and ``nowriter`` (captured, each finished trace counted and dropped:
the request's own share) and ``sampled`` (``--sample 0.05``: a twentieth of the
requests kept and written, the rest dropped after the tail rule) and ``summary``
(the same under ``--sample-tail summary``: only the drawn requests captured) and
``off`` (instrumented while the app loads, then switched off: its wrappers in place,
nothing captured).  With
``--before-src`` the perfdoctor modes run again from that copy of the package.
Reported: per mode the median over rounds of CPU ms per request, and its
overhead over bare in the same round, per request and per query; beside it the
cyclic garbage collector's time a request and its full collections a thousand
requests (a trace waiting for the recorder can bring those on sooner: they run
in the app's threads, and they are steadier than the CPU figure).

``--wsgi MODULE:APP`` measures a WSGI app of one's own instead, page by page over
its ``--path`` pages (``wsgi_pages.py``), in its own interpreter (``--python``)
from its folder (``--cwd``).  ``--without INTEGRATION`` adds a ``nowriter`` side
with that integration left out (a module name of ``perfdoctor.capture.auto``'s
``INTEGRATIONS``, e.g. ``django.core.cache``), and ``--no-callsite`` one with the
call-site search answering nothing: what each part costs a request::

    python benchmarks/app_cpu.py --wsgi bakerydemo.wsgi:application --cwd ../bakerydemo \
        --python ../bakerydemo/.venv/bin/python \
        --env DJANGO_SETTINGS_MODULE=bakerydemo.settings.dev --path /breads/ \
        --mode nowriter --without django.core.cache --no-callsite
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
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
sys.path.insert(0, str(HERE))

import capture_overhead  # noqa: E402 - a sibling script, found through the path above
import wsgi_pages  # noqa: E402

APPS = ("django", "fastapi")
MODES = ("bare", "perfdoctor", "nowriter", "sampled", "summary", "off")
QUERIES = {"django": 43, "fastapi": 40}


def _django_driver(module: Any) -> Any:
    from wsgiref.util import setup_testing_defaults

    def one() -> int:
        environ: dict[str, Any] = {"PATH_INFO": "/articles/", "HTTP_HOST": "localhost"}
        setup_testing_defaults(environ)
        status: list[str] = []
        body = module.application(environ, lambda s, h, e=None: status.append(s))
        size = sum(len(chunk) for chunk in body)
        getattr(body, "close", lambda: None)()
        assert status[0].startswith("200"), status
        return size

    return one


def list_app(app: str) -> Any:
    """A list app of ``apps/`` (``django``: DRF, ``fastapi``), seeded in ``$BENCH_DB``:
    a call requests its list once."""
    if app == "django":
        import list_django as module

        module.seed()
        return _django_driver(module)
    import list_fastapi as module

    module.seed()
    return _fastapi_driver(module)


def _fastapi_driver(module: Any) -> Any:
    loop = asyncio.new_event_loop()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/articles/",
        "raw_path": b"/articles/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }

    async def request() -> int:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await module.app(dict(scope), receive, send)
        assert sent[0]["status"] == 200, sent[0]
        return sum(len(m.get("body", b"")) for m in sent)

    def one() -> int:
        return loop.run_until_complete(request())

    return one


def run_worker(
    app: str, mode: str, requests: int, warmup: int, args: argparse.Namespace
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="perfdoctor-appcpu-") as folder:
        os.environ["BENCH_DB"] = str(Path(folder) / "bench.db")
        sys.path.insert(0, str(HERE / "apps"))
        kept: collections.Counter[str] = collections.Counter()
        perfdoctor: Any = None
        if mode != "bare":
            import perfdoctor
            from perfdoctor.capture import auto, context

            for name in args.skip or []:
                auto.INTEGRATIONS.pop(name, None)
            if args.no_callsite:
                context._capture_caller = lambda *a: ([], None, None)

            # ``sampled``: what a team leaves on, 5 % of requests kept (and every
            # slow or failed one), the same draws in every run.
            os.environ["PERFDOCTOR_SAMPLE_SEED"] = "1"
            # ``summary``: the same under ``--sample-tail summary`` (only drawn
            # requests captured).
            sampled = mode in ("sampled", "summary")
            tail = {"sample_tail": "summary"} if mode == "summary" else {}
            perfdoctor.instrument(
                traces=Path(folder) / "traces.db", sample=0.05 if sampled else None, **tail
            )
            if mode == "nowriter":

                def drop(trace: Any) -> None:
                    kept.update(span[0] for span in trace.spans)

                context.state.on_finish = drop
        paths = 1
        if app == "wsgi":
            paths = len(args.path or ["/"])
            one = wsgi_pages.driver(args.wsgi, args.path or ["/"], args.cwd, args.header)
        else:
            one = list_app(app)
        if mode == "off":
            # Imported, its wrappers installed in the app's modules, then switched
            # off: what a process pays for perfdoctor being there, capturing nothing.
            perfdoctor.uninstrument()
        for _ in range(warmup):
            one()
        collector = _Collections()
        gc.callbacks.append(collector.seen)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(requests):
            one()
        if perfdoctor is not None and mode in ("perfdoctor", "sampled", "summary"):
            perfdoctor.flush()
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        gc.callbacks.remove(collector.seen)
        stored = None
        if perfdoctor is not None and mode != "off":
            perfdoctor.uninstrument()
            if mode in ("perfdoctor", "sampled", "summary"):
                import sqlite3

                conn = sqlite3.connect(str(Path(folder) / "traces.db"))
                stored = conn.execute("SELECT count(*) FROM spans WHERE kind = 'db'").fetchone()[0]
                conn.close()
    return {
        "app": app,
        "mode": mode,
        "package": os.path.dirname(perfdoctor.__file__) if perfdoctor is not None else None,
        "cpu_ms_per_request": cpu * 1000.0 / requests / paths,
        "wall_ms_per_request": wall * 1000.0 / requests / paths,
        "db_spans_stored": stored,
        "spans_dropped": dict(kept),
        "gc_ms_per_request": collector.seconds * 1000.0 / requests / paths,
        "full_collections_per_1000": collector.full * 1000.0 / requests / paths,
    }


class _Collections:
    """The cyclic collector's runs while the requests are served: how long they
    took, and how many were full ones (the whole heap walked).  A trace waiting
    for the recorder moves its objects to the oldest generation and brings full
    collections on sooner; they run in whichever thread allocates, mostly the
    app's."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._started = 0.0

    def seen(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._started
        self.full += info["generation"] == 2


def _spawn(
    app: str, mode: str, src: str | None, args: argparse.Namespace, part: str | None = None
) -> dict[str, Any]:
    env = capture_overhead.worker_env()
    if src is not None:
        env["PYTHONPATH"] = src
    command = [args.python or sys.executable, str(Path(__file__).resolve()), "--worker", app, mode]
    command += ["--requests", str(args.requests), "--warmup", str(args.warmup)]
    if part == "callsite":
        command += ["--no-callsite"]
    elif part is not None:
        command += ["--skip", part]
    command += wsgi_pages.worker_options(args, env)
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"worker {app}/{mode} ({src or 'this tree'}) failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", action="append", choices=APPS)
    parser.add_argument("--before-src", help="another copy of the package's src, measured too")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--mode", action="append", choices=MODES, help="the modes run (all)")
    wsgi_pages.add_arguments(parser, spawns=True)
    parser.add_argument(
        "--without", action="append", metavar="INTEGRATION", help="a nowriter side without it"
    )
    parser.add_argument(
        "--no-callsite", action="store_true", help="a nowriter side without the call-site search"
    )
    parser.add_argument("--skip", action="append", help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        app, mode = args.worker
        print(json.dumps(run_worker(app, mode, args.requests, args.warmup, args)))
        return
    if args.wsgi:
        wsgi_pages.environment(args.env)  # a malformed one stops here
        args.app = ["wsgi"]
    from perfdoctor.capture.auto import INTEGRATIONS

    unknown = [name for name in args.without or [] if name not in INTEGRATIONS]
    if unknown:  # a side left out nothing: say so now, not in a table of figures
        raise SystemExit(f"--without {unknown[0]}: not an integration ({', '.join(INTEGRATIONS)})")
    modes = args.mode or list(MODES)
    if "bare" not in modes:  # every overhead is over bare's, in the same round
        modes.insert(0, "bare")
    sides: list[tuple[str, str, str | None, str | None]] = [(m, m, None, None) for m in modes]
    sides += [(f"nowriter without {name}", "nowriter", None, name) for name in args.without or []]
    if args.no_callsite:
        sides.append(("nowriter without call sites", "nowriter", None, "callsite"))
    if args.before_src:
        sides += [(f"{m}-before", m, args.before_src, None) for m in modes if m != "bare"]
    runs: dict[tuple[str, str], list[dict[str, Any]]] = collections.defaultdict(list)
    for round_ in range(args.rounds):
        for app in args.app or APPS:
            shift = round_ % len(sides)
            for name, mode, src, part in sides[shift:] + sides[:shift]:
                print(f"round {round_ + 1}/{args.rounds}: {app} {name}", file=sys.stderr)
                runs[(app, name)].append(_spawn(app, mode, src, args, part))
    rows = []
    for (app, name), results in runs.items():
        bare = runs[(app, "bare")]
        cpu = statistics.median(r["cpu_ms_per_request"] for r in results)
        over = statistics.median(
            r["cpu_ms_per_request"] - b["cpu_ms_per_request"] for r, b in zip(results, bare)
        )
        rows.append(
            {
                "app": app,
                "side": name,
                "cpu_ms_per_request": round(cpu, 3),
                "runs": [round(r["cpu_ms_per_request"], 3) for r in results],
                "over_bare_ms": None if name == "bare" else round(over, 3),
                "over_bare_us_per_query": None
                if name == "bare" or app not in QUERIES
                else round(over * 1000.0 / QUERIES[app], 2),
                "db_spans_stored": results[-1]["db_spans_stored"],
                "spans_dropped": results[-1]["spans_dropped"],
                "gc_ms_per_request": round(
                    statistics.median(r.get("gc_ms_per_request", 0.0) for r in results), 3
                ),
                "full_collections_per_1000": round(
                    statistics.median(r.get("full_collections_per_1000", 0.0) for r in results), 1
                ),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"process CPU ms per request, median over {args.rounds} rounds of {args.requests}"
        " (gc: the cyclic collector's ms a request, and its full collections a 1000)"
    )
    for row in rows:
        extra = ""
        if row["over_bare_ms"] is not None:
            per_query = row["over_bare_us_per_query"]
            extra = f"  +{row['over_bare_ms']:.3f} ms"
            if per_query is not None:
                extra += f"  (+{per_query:.2f} µs/query)"
        extra += f"  gc {row['gc_ms_per_request']:.3f} ms"
        extra += f", {row['full_collections_per_1000']:g} full"
        print(f"{row['app']:8} {row['side']:36} {row['cpu_ms_per_request']:7.3f}{extra}")


if __name__ == "__main__":
    main()
