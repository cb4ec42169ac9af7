"""What `perfdoctor bench`'s built-in driver costs, and its HTTP throughput next to Locust's.

    python benchmarks/bench_driver.py            # full run (about a minute)
    python benchmarks/bench_driver.py --quick    # smoke run: seconds, figures too noisy to judge

1. In-process: a WSGI app that returns a few bytes, called directly in a loop,
   against the same calls through the driver (scheduling, timing, HDR
   histogram) without capture, and through the whole `bench` (with capture).
   The difference per request is the driver's own cost.
2. HTTP: the same app behind a threaded server in another process; requests per
   second of the built-in driver (C connections on C threads) and of Locust
   (a master and 2 workers, C users, no wait) on the same server.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from perfdoctor.bench.run import Outcome, Plan, run_sync, summarise
from perfdoctor.bench.sides import HTTPSide, InProcessSide, Side, run_rounds
from perfdoctor.bench.spec import parse_endpoint
from perfdoctor.bench.targets import WSGITarget

BODY = b'{"ok": true}'

SERVER = """
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "12")])
    return [b'{"ok": true}']

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

class Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True

server = make_server("127.0.0.1", 0, app, server_class=Threading, handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
"""


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [BODY]


def direct_us(n: int) -> float:
    def start_response(*args: Any) -> None:
        pass

    started = time.perf_counter()
    for _ in range(n):
        body = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, start_response)
        for _chunk in body:
            pass
    return (time.perf_counter() - started) / n * 1e6


def driver_us(n: int) -> float:
    endpoint = parse_endpoint("GET /")
    plan = Plan([endpoint], n, 1, None, 0)
    target = WSGITarget(app)
    started = time.perf_counter()
    outcome = Outcome(samples=run_sync(plan, plan.round_jobs(0), 0, target.call, lambda: None))
    summarise(plan, outcome, {}, "inprocess", {}, [])
    return (time.perf_counter() - started) / n * 1e6


def _whole(plan: Plan, side: Side) -> dict[str, Any]:
    """What `perfdoctor bench` does with a side, minus the worker process it runs an app in."""
    try:
        side.start()
        [outcome] = run_rounds(plan, [side], [0] * plan.rounds, lambda: None)
        facts, findings = side.finish()
    finally:
        side.close()
    return summarise(plan, outcome, facts, "bench", {}, findings)


def bench_us(n: int) -> float:
    plan = Plan([parse_endpoint("GET /")], n, 1, None, 0)
    started = time.perf_counter()
    _whole(plan, InProcessSide(plan, app, memory=False))
    return (time.perf_counter() - started) / n * 1e6


def http_rps(url: str, n: int, concurrency: int) -> float:
    plan = Plan([parse_endpoint("GET /")], n, concurrency, None, 0)
    started = time.perf_counter()
    result = _whole(plan, HTTPSide(plan, url))
    return float(result["endpoints"]["GET /"]["requests"]) / (time.perf_counter() - started)


def locust_rps(url: str, seconds: float, concurrency: int) -> float:
    from perfdoctor.bench.locust_engine import bench_locust

    plan = Plan([parse_endpoint("GET /")], 1, concurrency, None, 0)
    result = bench_locust(plan, url, seconds, 2, lambda: None, {})
    return float(result["endpoints"]["GET /"]["requests"]) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n = 2_000 if args.quick else 50_000
    http_n = 300 if args.quick else 10_000
    seconds = 2.0 if args.quick else 10.0
    concurrency = 4
    figures: dict[str, float] = {}
    figures["direct_us"] = min(direct_us(n) for _ in range(3))
    figures["driver_us"] = min(driver_us(n) for _ in range(3))
    figures["bench_with_capture_us"] = bench_us(n)
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        figures["builtin_http_rps"] = http_rps(url, http_n, concurrency)
        figures["locust_http_rps"] = locust_rps(url, seconds, concurrency)
    finally:
        server.kill()
        server.wait()
    figures["driver_cost_us"] = figures["driver_us"] - figures["direct_us"]
    if args.json:
        print(json.dumps({k: round(v, 2) for k, v in figures.items()}))
        return
    print(f"direct call of the app:           {figures['direct_us']:8.2f} us/request")
    print(f"through the driver (no capture):  {figures['driver_us']:8.2f} us/request")
    print(f"driver's own cost:                {figures['driver_cost_us']:8.2f} us/request")
    print(
        f"whole bench (capture+store+detectors): {figures['bench_with_capture_us']:8.2f} us/request"
    )
    print(f"HTTP, built-in driver, {concurrency} conns:  {figures['builtin_http_rps']:8.0f} req/s")
    print(f"HTTP, Locust 2 workers, {concurrency} users: {figures['locust_http_rps']:8.0f} req/s")


if __name__ == "__main__":
    main()
