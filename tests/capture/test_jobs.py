"""Celery, RQ and Dramatiq under ``perfdoctor run``: each task run is its own trace.

A script enqueues two tasks per library (a digest with an N+1 and its fixed
twin) on a real Redis (database 5, queues of this run's own), then the real
workers run them as their command lines do, side by side: Celery's solo pool,
RQ's forking worker in burst mode, Dramatiq with one process and one thread.
Celery's prefork pool, where tasks run in a child process, has a test of its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from perfdoctor.model import Trace
from tests.capture.apps_support import (
    APPS,
    app_env,
    assert_n_plus_one,
    console_script,
    endpoint,
    finding_at,
    load,
    marker_line,
    wait_for_traces,
)
from tests.conftest import perfdoctor_cmd, report_json, require_redis, run_perfdoctor

JOBS = APPS / "jobs"
REDIS_DB = 5
POSTS = 16  # two per author: the N+1 runs one query per post
MODULES = {"celery": "celery_tasks", "rq": "rq_tasks", "dramatiq": "dramatiq_tasks"}


@dataclass
class Session:
    """One store, database and queue prefix; what was captured in it."""

    traces: Path
    env: dict[str, str]
    queue: str
    cwd: Path
    script: Trace | None = None
    report: dict[str, Any] | None = None

    def queue_of(self, library: str) -> str:
        return f"{self.queue}_{library}"


@contextlib.contextmanager
def session(cwd: Path) -> Iterator[Session]:
    """A session on Redis database 5; its queues' keys are deleted afterwards."""
    import redis

    broker = require_redis().rsplit("/", 1)[0] + f"/{REDIS_DB}"
    queue = f"pdjobs_{uuid.uuid4().hex[:10]}"
    env = app_env(
        PDJOBS_BROKER=broker,
        PDJOBS_QUEUE=queue,
        PDJOBS_DB=str(cwd / "blog.db"),
        PYTHONPATH=os.pathsep.join(p for p in (str(JOBS), os.environ.get("PYTHONPATH")) if p),
    )
    try:
        yield Session(cwd / "traces.db", env, queue, cwd)
    finally:
        client = redis.Redis.from_url(broker)
        keys = list(client.scan_iter(match=f"*{queue}*"))
        if keys:
            client.delete(*keys)
        client.close()


def enqueue(run: Session, *libraries: str) -> Trace:
    """Run enqueue.py under capture: its own trace (a script's) is the enqueuer."""
    result = run_perfdoctor(
        "run", "--traces", str(run.traces), "--", sys.executable, str(JOBS / "enqueue.py"),
        *libraries, cwd=run.cwd, env=run.env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "perfdoctor:" not in result.stderr, result.stderr
    [script] = [t for t in load(run.traces) if t.name == "enqueue.py"]
    return script


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start(run: Session, command: Sequence[str]) -> Worker:
    """``perfdoctor run -- COMMAND``, its output in a file (an unread pipe could fill)."""
    log = run.cwd / f"{Path(command[0]).name}-{uuid.uuid4().hex[:6]}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            perfdoctor_cmd("run", "--traces", str(run.traces), "--", *command),
            cwd=run.cwd, env=run.env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Worker(process, log)


def stop(worker: Worker) -> str:
    """Stop a worker as a supervisor would (SIGTERM: a warm shutdown); its output."""
    process = worker.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return worker.output()


def assert_clean(output: str) -> None:
    assert "Traceback" not in output, output
    assert "perfdoctor: could not instrument" not in output, output


def celery(run: Session, pool: str) -> list[str]:
    return [
        console_script("celery"), "-A", "celery_tasks", "worker", "--pool", pool,
        "--concurrency", "1", "-Q", run.queue_of("celery"), "--without-heartbeat",
        "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
    ]


def tasks_done(count: int) -> Any:
    return lambda loaded: sum(t.name.startswith("task ") for t in loaded) >= count


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """The three libraries' tasks enqueued by one script, then run by their workers at once."""
    with session(tmp_path_factory.mktemp("jobs")) as run:
        run.script = enqueue(run, *MODULES)
        running = [
            start(run, celery(run, "solo")),
            start(run, [
                console_script("dramatiq"), "dramatiq_tasks", "--processes", "1", "--threads",
                "1", "--queues", run.queue_of("dramatiq"),
            ]),
            # Burst mode: the worker exits once its queue is empty.
            start(run, [
                console_script("rq"), "worker", "--burst", "--url", run.env["PDJOBS_BROKER"],
                "--worker-class", "rq_tasks.Worker", run.queue_of("rq"),
            ]),
        ]
        try:
            wait_for_traces(run.traces, tasks_done(2 * len(MODULES)), timeout=45)
            running[-1].process.wait(timeout=30)
        finally:
            outputs = [stop(worker) for worker in running]
        for output in outputs:
            assert_clean(output)
        assert running[-1].process.returncode == 0, outputs[-1]
        run.report = report_json(run.traces, cwd=run.cwd)
        yield run


def check_runs(run: Session, script: Trace, library: str) -> tuple[Trace, Trace]:
    """The two runs' traces: named by the task, timed, and linked to the enqueuing script."""
    module = MODULES[library]
    loaded = [t for t in load(run.traces) if t.name.startswith(f"task {module}.")]
    by_name = {t.name: t for t in loaded}
    assert len(by_name) == len(loaded) == 2, [t.name for t in loaded]
    digest = by_name[f"task {module}.digest"]
    fixed = by_name[f"task {module}.digest_fixed"]
    for trace in (digest, fixed):
        assert trace.kind == "job"
        assert trace.pid != script.pid
        job = trace.attrs["job"]
        assert job["system"] == library
        assert job["task"] == trace.name.removeprefix("task ")
        assert job["enqueued_by"] == script.id
        assert job["queue"] == run.queue_of(library)
        assert job["id"]
        # Enqueued before the worker started: it waited; run time is the trace's.
        assert job["wait_ms"] > 0, job
        assert job["run_ms"] == pytest.approx(trace.duration_ms, abs=0.001), job
        assert "error" not in job
        handler = trace.attrs["handler"]
        assert handler["path"] == str(JOBS / f"{module}.py"), handler
        assert handler["function"] == trace.name.rsplit(".", 1)[1]
        # The queue's bookkeeping (Celery storing the result, RQ's job hash) is
        # not the task's cache calls.
        assert [s for s in trace.spans if s.kind == "cache"] == []
    assert [s.statement for s in fixed.db_spans()] == [
        "SELECT post.id, author.name FROM post JOIN author ON author.id = post.author_id"
    ]
    # No parameter value is stored: the N+1's lookups differ only by their digest.
    assert all(s.attrs.get("params") is None for s in digest.db_spans())
    return digest, fixed


def check_enqueue_spans(script: Trace, library: str) -> None:
    """One ``job.enqueue`` span per task at the script's line; no broker commands."""
    module = MODULES[library]
    enqueues = [
        s for s in script.spans
        if s.kind == "job.enqueue" and s.attrs["task"].startswith(f"{module}.")
    ]
    assert [(s.system, s.attrs["task"]) for s in enqueues] == [
        (library, f"{module}.digest"), (library, f"{module}.digest_fixed"),
    ]
    location = enqueues[0].location
    assert location is not None and location.path == str(JOBS / "enqueue.py")
    assert location.line == marker_line(JOBS / "enqueue.py", f"enqueue: {library}_digest")


def check_findings(report: dict[str, Any], run: Session, library: str) -> None:
    """The N+1 inside the task is found at the task's own line; the fixed twin is silent."""
    module = MODULES[library]
    assert_n_plus_one(
        finding_at(report, "n-plus-one-query", f"task {module}.digest"),
        source=JOBS / f"{module}.py", marker=f"{library}_digest", count=POSTS, cwd=run.cwd,
        framework=None, function="digest",
    )
    assert [f for f in report["findings"] if f["endpoint"] == f"task {module}.digest_fixed"] == []
    # Grouped by task in the endpoint table, one row per task.
    assert endpoint(report, f"task {module}.digest")["requests"] == 1
    assert endpoint(report, f"task {module}.digest")["queries_per_request"] == POSTS + 1


@pytest.mark.parametrize("library", list(MODULES))
def test_each_task_run_is_a_trace_linked_to_its_enqueuer(workers: Session, library: str) -> None:
    assert workers.script is not None and workers.report is not None
    check_runs(workers, workers.script, library)
    check_enqueue_spans(workers.script, library)
    check_findings(workers.report, workers, library)


def test_the_broker_traffic_is_not_the_scripts_cache_calls(workers: Session) -> None:
    assert workers.script is not None
    assert [s for s in workers.script.spans if s.kind == "cache"] == []


def test_the_workers_own_loops_are_not_endpoints(workers: Session) -> None:
    """Start-up and polling the broker belong to no task: a server's work, not an endpoint."""
    assert workers.report is not None
    tasks = {f"task {m}.{f}" for m in MODULES.values() for f in ("digest", "digest_fixed")}
    assert {e["name"] for e in workers.report["endpoints"]} == {"enqueue.py", *tasks}


def test_celery_prefork_child_writes_its_task_traces(tmp_path: Path) -> None:
    with session(tmp_path) as run:
        script = enqueue(run, "celery")
        worker = start(run, celery(run, "prefork"))
        try:
            wait_for_traces(run.traces, tasks_done(2), timeout=45)
        finally:
            assert_clean(stop(worker))
        digest, _ = check_runs(run, script, "celery")
        # Run in the pool's child, not in the worker's main process.
        main = [t for t in load(run.traces) if t.name == "celery"]
        assert all(t.pid != digest.pid for t in main)
        assert len(digest.db_spans()) == POSTS + 1
