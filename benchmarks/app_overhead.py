"""What `perfdoctor run` costs a real app: p50 latency of a list endpoint of ~40 queries.

Two apps, each served by a real server in its own process (see ``apps/``):

* ``django``: Django + DRF (a ``ListAPIView`` of 39 articles with their authors,
  one query per author) on SQLite, under gunicorn (one sync worker);
* ``fastapi``: FastAPI + SQLAlchemy ORM (the same list, authors lazy-loaded) on
  SQLite, under uvicorn (one worker).

For each app the same server runs twice at once, on two ports: bare, and under
``perfdoctor run`` (a third time with ``--before-src PATH``: under the perfdoctor
found at PATH, e.g. a checkout of the previous commit's ``src``).  The driver
(this process) then sends rounds of sequential GETs, one server at a time, the
order rotating each round, so drift on a noisy machine hits every side alike::

    python benchmarks/app_overhead.py                   # both apps, about 4 minutes
    python benchmarks/app_overhead.py --app django --rounds 4 --requests 20   # smoke
    python benchmarks/app_overhead.py --before-src ../old/src --json
    python benchmarks/app_overhead.py --agent otel --agent sentry --agent ddtrace
    python benchmarks/app_overhead.py --sample 0.05     # also what a team leaves on
    python benchmarks/app_overhead.py --sample 0.05 --sample-tail summary   # only drawn captured

``--serve`` measures an app of your own instead, served by your command (``{port}``
in it is replaced), from ``--cwd``, with ``--python`` (the app's interpreter, which
must have perfdoctor installed) running ``perfdoctor run`` for the traced sides,
over the ``--path`` pages in turn::

    python benchmarks/app_overhead.py --serve "python -m gunicorn -w 1 -b 127.0.0.1:{port} \
        mysite.wsgi" --cwd ../mysite --python ../mysite/.venv/bin/python --path / --path /blog/

``--agent`` serves the app once more under a tracing agent a team would leave on
instead (OpenTelemetry, sentry-sdk, ddtrace where it installs), tracing every
request and sending to a local sink, in the same rounds.

Reported per side: the p50 over all its requests, and per round the median; the
overhead is each round's median minus bare's in the same round, in % of bare's,
and its median over rounds (with the spread).  At the end the servers get
SIGTERM, and the perfdoctor sides' stores are read: every request must have
been stored with its 40 queries (a sampled side: about its share of them).
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import shlex
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

APPS_DIR = Path(__file__).resolve().parent / "apps"
AGENT_BOOT = APPS_DIR / "agent_boot"
PATH = "/articles/"
QUERIES = 40


@dataclass
class External:
    """An app of the user's own (``--serve``): how to serve it and what to ask it."""

    command: str
    cwd: str
    python: str
    paths: list[str]
    env: dict[str, str]
    # Sent with every request (a login's token: "Authorization: Bearer ...").
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Side:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    store: Path | None
    samples: list[float] = field(default_factory=list)
    round_medians: list[float] = field(default_factory=list)
    # An external app's pages, asked in turn (the built-in apps: their list).
    paths: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server(app: str | External, port: int) -> list[str]:
    if isinstance(app, External):
        return shlex.split(app.command.replace("{port}", str(port)))
    if app == "django":
        return [
            sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}",
            "--chdir", str(APPS_DIR), "list_django:application",
        ]
    return [
        sys.executable, "-m", "uvicorn", "--app-dir", str(APPS_DIR), "--host", "127.0.0.1",
        "--port", str(port), "--workers", "1", "--no-access-log", "--log-level", "warning",
        "list_fastapi:app",
    ]


def _env(db: Path, src: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERFDOCTOR_", "OTEL_"))}
    env["BENCH_DB"] = str(db)
    env.pop("PYTHONPATH", None)
    if src is not None:
        env["PYTHONPATH"] = src
    return env


def _start(
    name: str,
    app: str | External,
    db: Path,
    folder: Path,
    src: str | None,
    traced: bool,
    agent: tuple[str, str] | None = None,
    sample: float | None = None,
    tail: str | None = None,
) -> Side:
    """``agent``: (name, sink URL) of the tracing agent to serve the app under;
    ``sample``: the share of requests ``perfdoctor run --sample`` keeps, with
    ``--sample-tail tail``."""
    external = app if isinstance(app, External) else None
    port = _free_port()
    command = _server(app, port)
    store = None
    if traced:
        store = folder / f"{name}.db"
        python = external.python if external else sys.executable
        run = [python, "-m", "perfdoctor", "run", "--traces", str(store)]
        if sample is not None:
            run += ["--sample", str(sample)]
        if tail is not None:
            run += ["--sample-tail", tail]
        command = [*run, "--", *command]
    env = _env(db, src)
    if external:
        env.update(external.env)
    if agent is not None:
        env["PYTHONPATH"] = str(AGENT_BOOT)
        env.update(BENCH_AGENT=agent[0], BENCH_SINK=agent[1], BENCH_APP=app)
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True, cwd=external.cwd if external else None,
    )
    return Side(
        name,
        port,
        process,
        store,
        paths=external.paths if external else [],
        headers=external.headers if external else {},
    )


class _Sink(http.server.BaseHTTPRequestHandler):
    """What the agents send to (OTLP, Sentry envelopes, Datadog traces): read, 200, kept nowhere."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        received = self.server.received  # type: ignore[attr-defined]
        path = self.path.split("?")[0]
        received[path] = received.get(path, 0) + 1

    do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


def _sink() -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    server.received = {}  # type: ignore[attr-defined]  # path -> posts
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _get(port: int, path: str = PATH, headers: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    elapsed = time.perf_counter() - started
    # The built-in apps answer a JSON list; an external app, any page.
    if response.status != 200 or (path == PATH and not body.startswith(b"[")):
        raise RuntimeError(f"GET {path} on port {port}: {response.status} {body[:200]!r}")
    return elapsed


def _ask(side: Side, request: int) -> float:
    """One GET of the side's app: its list, or an external app's pages in turn."""
    if not side.paths:
        return _get(side.port)
    return _get(side.port, side.paths[request % len(side.paths)], side.headers)


def _wait(side: Side, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if side.process.poll() is not None:
            err = side.process.stderr.read().decode() if side.process.stderr else ""
            raise RuntimeError(f"{side.name} exited: {err[-2000:]}")
        try:
            _ask(side, 0)
            return
        except (OSError, RuntimeError, http.client.HTTPException):
            time.sleep(0.2)
    raise RuntimeError(f"{side.name} did not answer on port {side.port}")


def _stop(side: Side) -> None:
    if side.process.poll() is None:
        os.killpg(side.process.pid, signal.SIGTERM)
    try:
        side.process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(side.process.pid, signal.SIGKILL)
        side.process.wait(10)


def _stored(store: Path) -> dict[str, Any]:
    """Requests and db spans per request in a side's store."""
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT t.id, (SELECT count(*) FROM spans s WHERE s.trace_id = t.id AND s.kind = 'db')"
            " FROM traces t WHERE t.kind = 'http'"
        ).fetchall()
    finally:
        conn.close()
    per_request = sorted({count for _, count in rows})
    return {"requests": len(rows), "db_spans_per_request": per_request}


def measure_app(
    app: str | External,
    rounds: int,
    requests: int,
    warmup: int,
    before_src: str | None,
    agents: tuple[str, ...] = (),
    sample: float | None = None,
    tails: tuple[str, ...] = (),
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="perfdoctor-app-bench-") as tmp:
        folder = Path(tmp)
        db = folder / "app.db"
        if not isinstance(app, External):
            subprocess.run(
                [sys.executable, str(APPS_DIR / f"list_{app}.py"), "seed"],
                env=_env(db, None), check=True,
            )
        sink = _sink() if agents else None
        sides = [_start("bare", app, db, folder, None, traced=False)]
        sides.append(_start("perfdoctor", app, db, folder, os.environ.get("PYTHONPATH"), True))
        if before_src is not None:
            sides.append(_start("perfdoctor-before", app, db, folder, before_src, traced=True))
        if sample is not None:
            # What a team would leave on: the same perfdoctor, a share of requests kept.
            here = os.environ.get("PYTHONPATH")
            sides.append(_start("sampled", app, db, folder, here, True, sample=sample))
            if before_src is not None:
                sides.append(
                    _start("sampled-before", app, db, folder, before_src, True, sample=sample)
                )
            for tail in tails:
                sides.append(
                    _start(f"sampled-{tail}", app, db, folder, here, True, sample=sample, tail=tail)
                )
        for agent in agents:
            assert sink is not None
            url = f"http://127.0.0.1:{sink.server_address[1]}"
            sides.append(_start(agent, app, db, folder, None, False, (agent, url)))
        try:
            for side in sides:
                _wait(side)
                for n in range(warmup):
                    _ask(side, n)
            for round_ in range(rounds):
                shift = round_ % len(sides)
                for side in sides[shift:] + sides[:shift]:
                    times = [_ask(side, n) for n in range(requests)]
                    side.samples += times
                    side.round_medians.append(statistics.median(times))
        finally:
            for side in sides:
                _stop(side)
            if sink is not None:
                sink.shutdown()
        bare = sides[0]
        label = "external" if isinstance(app, External) else app
        result: dict[str, Any] = {"app": label, "sides": []}
        if sink is not None:
            # Per endpoint of the sink (/v1/traces: OpenTelemetry, /api/1/envelope/:
            # Sentry, /v0.x/traces: ddtrace): nothing sent would be an agent that
            # traced nothing, and no comparison.
            result["agent_posts"] = sink.received  # type: ignore[attr-defined]
        for side in sides:
            entry: dict[str, Any] = {
                "side": side.name,
                "p50_ms": statistics.median(side.samples) * 1000,
                "round_medians_ms": [m * 1000 for m in side.round_medians],
            }
            if side is not bare:
                overhead = [
                    (m - b) / b * 100 for m, b in zip(side.round_medians, bare.round_medians)
                ]
                quartiles = (
                    statistics.quantiles(overhead, n=4) if len(overhead) > 1 else overhead * 3
                )
                entry["overhead_pct"] = statistics.median(overhead)
                entry["overhead_pct_iqr"] = [quartiles[0], quartiles[-1]]
                bare_p50 = statistics.median(bare.samples) * 1000
                entry["p50_overhead_pct"] = (entry["p50_ms"] / bare_p50 - 1) * 100
                if side.store is not None:
                    entry["stored"] = _stored(side.store)
            result["sides"].append(entry)
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", action="append", choices=("django", "fastapi"))
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50, help="requests per side per round")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--before-src", help="also run under the perfdoctor at this src folder")
    parser.add_argument(
        "--agent",
        action="append",
        choices=("otel", "sentry", "ddtrace"),
        help="also serve the app under this tracing agent, every request traced "
        "(repeatable; see apps/agent_boot/sitecustomize.py)",
    )
    parser.add_argument(
        "--sample",
        type=float,
        help="also serve the app under `perfdoctor run --sample RATE` (and the before side's)",
    )
    parser.add_argument(
        "--sample-tail",
        action="append",
        choices=("full", "summary"),
        help="with --sample: also a side under `--sample-tail TAIL` (repeatable)",
    )
    parser.add_argument("--serve", help="an app of your own: its serving command, with {port}")
    parser.add_argument("--cwd", default=".", help="--serve: where the command runs")
    parser.add_argument(
        "--python", default=sys.executable, help="--serve: the app's interpreter (perfdoctor in it)"
    )
    parser.add_argument("--path", action="append", help="--serve: a page to ask (repeatable)")
    parser.add_argument(
        "--env", action="append", default=[], help="--serve: KEY=VALUE for the app (repeatable)"
    )
    parser.add_argument(
        "--header", action="append", default=[], help="--serve: 'Name: value' sent with each GET"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    apps: list[str | External] = list(args.app or ["django", "fastapi"])
    if args.serve:
        env = dict(item.split("=", 1) for item in args.env)
        headers = dict(
            (name.strip(), value.strip())
            for name, value in (item.split(":", 1) for item in args.header)
        )
        apps = [External(args.serve, args.cwd, args.python, args.path or ["/"], env, headers)]
    results = [
        measure_app(
            app,
            args.rounds,
            args.requests,
            args.warmup,
            args.before_src,
            tuple(args.agent or ()),
            args.sample,
            tuple(args.sample_tail or ()),
        )
        for app in apps
    ]
    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/app_overhead.py", *sys.argv[1:]]),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "results": results,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"perfdoctor run on a real app  {summary['date']}  {summary['cpus']} cpus")
    print(
        f"{'app':8} {'side':18} {'p50 ms':>8} {'+p50 %':>8} {'+round median %':>16} "
        f"{'IQR':>16}  stored"
    )
    for result in results:
        for side in result["sides"]:
            extra = ""
            if "overhead_pct" in side:
                low, high = side["overhead_pct_iqr"]
                extra = (
                    f"{side['p50_overhead_pct']:>+8.2f} {side['overhead_pct']:>+16.2f} "
                    f"{low:>+7.2f}..{high:<+7.2f}  {side.get('stored', '')}"
                )
            print(f"{result['app']:8} {side['side']:18} {side['p50_ms']:>8.3f} {extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
