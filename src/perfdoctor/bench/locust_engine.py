"""``perfdoctor bench --engine locust``: the same scenario on Locust's distributed
mode (one master, N local workers), for load beyond what one process can send.

Locust drives the server over HTTP for ``--duration``; ``--concurrency`` is the
number of users.  Its workers report every sample, and the result document is
built exactly as for the built-in driver, with ``"engine": "locust"``.  Locust
measures from send time: with ``--rate`` its percentiles are not corrected for
coordinated omission.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from perfdoctor.bench.run import Outcome, Plan, Progress, Sample, summarise
from perfdoctor.bench.targets import HTTPTarget
from perfdoctor.errors import UsageError

# Written to a temporary directory and given to every Locust process.
_LOCUSTFILE = r'''"""The locustfile ``perfdoctor bench --engine locust`` runs (master and workers).

The scenario comes from the environment; each worker writes the samples it
recorded (warm-up excluded) to its own JSON file when it stops, for perfdoctor
to build the same histogram and JSON as the built-in driver.
"""

import json
import os

from locust import HttpUser, constant, constant_throughput, events, task
from locust.runners import WorkerRunner

ENDPOINTS = json.loads(os.environ["PERFDOCTOR_BENCH_ENDPOINTS"])
ITERATIONS_PER_SECOND = float(os.environ.get("PERFDOCTOR_BENCH_USER_RATE") or 0)
WARMUP = int(os.environ.get("PERFDOCTOR_BENCH_WARMUP") or 0)
OUT = os.environ["PERFDOCTOR_BENCH_OUT"]
samples = []


@events.request.add_listener
def on_request(name, response_time, response=None, exception=None, context=None, **kwargs):
    if context and context.get("perfdoctor_warmup"):
        return
    status = getattr(response, "status_code", None) if exception is None else None
    samples.append([name, float(response_time), status])


def _write(environment, **kwargs):
    if isinstance(environment.runner, WorkerRunner):
        path = os.path.join(OUT, f"samples-{os.getpid()}.json")
        with open(path + ".tmp", "w") as out:
            json.dump(samples, out)
        os.replace(path + ".tmp", path)


events.test_stop.add_listener(_write)
events.quitting.add_listener(_write)


class BenchUser(HttpUser):
    wait_time = constant_throughput(ITERATIONS_PER_SECOND) if ITERATIONS_PER_SECOND else constant(0)

    def context(self):
        return {"perfdoctor_warmup": self.warming}

    def on_start(self):
        self.warming = True
        for _ in range(WARMUP):
            self.each_endpoint()
        self.warming = False

    def each_endpoint(self):
        for method, target, name in ENDPOINTS:
            self.client.request(method, target, name=name)

    @task
    def scenario(self):
        self.each_endpoint()
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _last_line(logs: list[Path]) -> str:
    """The last error-looking line Locust wrote, for a one-line message."""
    for log in logs:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        errors = [line for line in lines if "Error" in line or "Exception" in line]
        if errors:
            return errors[-1].strip()
    return "no output"


def _locust() -> list[str]:
    # Only look: importing locust here would monkey-patch this process with gevent.
    if importlib.util.find_spec("locust") is None:
        raise UsageError("--engine locust needs Locust: pip install 'perfdoctor[bench-locust]'")
    return [sys.executable, "-m", "locust"]


def bench_locust(
    plan: Plan,
    url: str,
    seconds: float,
    workers: int,
    progress: Progress,
    settings: dict[str, Any],
) -> dict[str, Any]:
    command = _locust()
    target = HTTPTarget(url)
    for endpoint in plan.endpoints:
        status = target.probe(endpoint)
        if status in (404, 405):
            raise UsageError(f"{endpoint.name} answered {status}: not an endpoint of the app")
    workdir = Path(tempfile.mkdtemp(prefix="perfdoctor-locust-"))
    try:
        return _run(plan, command, url, seconds, workers, progress, settings, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(
    plan: Plan,
    command: list[str],
    url: str,
    seconds: float,
    workers: int,
    progress: Progress,
    settings: dict[str, Any],
    workdir: Path,
) -> dict[str, Any]:
    locustfile = workdir / "locustfile.py"
    locustfile.write_text(_LOCUSTFILE)
    users = plan.concurrency
    env = dict(os.environ)
    env["PERFDOCTOR_BENCH_ENDPOINTS"] = json.dumps(
        [[e.method, e.path + (f"?{e.query}" if e.query else ""), e.name] for e in plan.endpoints]
    )
    # --rate is per endpoint; one user iteration requests every endpoint once.
    env["PERFDOCTOR_BENCH_USER_RATE"] = str(plan.rate / users) if plan.rate else ""
    env["PERFDOCTOR_BENCH_WARMUP"] = str(plan.warmup)
    env["PERFDOCTOR_BENCH_OUT"] = str(workdir)
    port = _free_port()
    base = [*command, "-f", str(locustfile), "--skip-log-setup", "--loglevel", "ERROR"]
    logs = [workdir / f"locust-{i}.log" for i in range(workers + 1)]
    handles = [log.open("w") for log in logs]
    master = subprocess.Popen(
        [
            *base,
            "--headless",
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--expect-workers",
            str(workers),
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{max(1, round(seconds))}s",
            "--host",
            url,
            "--only-summary",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=handles[0],
    )
    procs: list[subprocess.Popen[bytes]] = [master]
    try:
        for i in range(workers):
            procs.append(
                subprocess.Popen(
                    [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=handles[i + 1],
                )
            )
        deadline = time.monotonic() + seconds + 60
        # A process that dies early (a bad locustfile, a port taken) would leave
        # the others waiting for it: stop as soon as any of them fails.
        while any(p.poll() is None for p in procs):
            failed = [p for p in procs if p.returncode not in (None, 0)]
            if failed or time.monotonic() > deadline:
                raise UsageError(f"Locust failed: {_last_line(logs)}")
            time.sleep(0.1)
        if master.returncode != 0:
            raise UsageError(f"Locust failed: {_last_line(logs)}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for handle in handles:
            handle.close()
    files = sorted(workdir.glob("samples-*.json"))
    if not files:
        raise UsageError(f"Locust recorded nothing: {_last_line(logs)}")
    index = {e.name: i for i, e in enumerate(plan.endpoints)}
    outcome = Outcome()
    for path in files:
        for name, latency_ms, status in json.loads(path.read_text()):
            if name in index:
                outcome.samples.append(Sample(index[name], float(latency_ms), status, None))
                progress()
    result = summarise(plan, outcome, {}, "http", settings, [])
    result["engine"] = "locust"
    result["latency_origin"] = "send time"
    result["settings"]["workers"] = workers
    return result
