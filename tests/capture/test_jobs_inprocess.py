"""Task runs captured in this process: inline runs, failures, and the link, per library.

The workers are the libraries' own (Celery's eager ``apply``, RQ's SimpleWorker
and synchronous queue on Redis database 5, Dramatiq's Worker on its stub broker),
run in the test's process where the worker tests of test_jobs.py use subprocesses.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import perfdoctor
from perfdoctor.model import Trace
from perfdoctor.report.waterfall import span_label
from tests.inprocess import capturing, load

REDIS_DB = 5


def lookups(rows: int = 3) -> int:
    conn = sqlite3.connect(":memory:")
    for n in range(rows):
        conn.execute("SELECT ?", (n,)).fetchone()
    conn.close()
    return rows


def failing() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("SELECT 1").fetchone()
    raise LookupError("no such digest")


def named(traces: list[Trace], prefix: str) -> list[Trace]:
    return [t for t in traces if t.name.startswith(prefix)]


@pytest.fixture
def rq_queue(redis_url: str) -> Iterator[Any]:
    import redis
    from rq import Queue

    connection = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}")
    name = f"pdjobs_{uuid.uuid4().hex[:10]}"
    yield lambda **options: Queue(name, connection=connection, **options)
    keys = list(connection.scan_iter(match=f"*{name}*"))
    if keys:
        connection.delete(*keys)
    connection.close()


def test_celery_eager_run_in_a_request_is_part_of_it(tmp_path: Path) -> None:
    from celery import Celery

    app = Celery("pdjobs_eager", broker="memory://")
    task = app.task(name="pdjobs.lookups")(lookups)
    with capturing(tmp_path / "traces.db"), perfdoctor.trace("GET /digest", kind="http"):
        assert task.apply().get() == 3
    traces = load(tmp_path / "traces.db")
    assert [t.name for t in traces] == ["GET /digest"]
    assert len(traces[0].db_spans()) == 3


def test_celery_failed_run_names_its_error_and_the_error_reaches_celery(tmp_path: Path) -> None:
    from celery import Celery

    app = Celery("pdjobs_failing", broker="memory://")
    task = app.task(name="pdjobs.failing")(failing)
    with capturing(tmp_path / "traces.db"):
        result = task.apply()
    assert isinstance(result.result, LookupError)
    [trace] = named(load(tmp_path / "traces.db"), "task ")
    assert trace.name == "task pdjobs.failing"
    job = trace.attrs["job"]
    assert job["error"] == "LookupError"
    # Run in place, never enqueued: no wait, no enqueuer.
    assert "wait_ms" not in job and "enqueued_by" not in job
    assert trace.attrs["handler"]["function"] == "failing"


def test_rq_synchronous_queue_runs_the_job_in_the_callers_trace(
    tmp_path: Path, rq_queue: Any
) -> None:
    with capturing(tmp_path / "traces.db"), perfdoctor.trace("POST /digest", kind="http"):
        job = rq_queue(is_async=False).enqueue(lookups, 4)
    assert job.return_value() == 4
    [trace] = load(tmp_path / "traces.db")
    assert trace.name == "POST /digest"
    # The job's queries are the request's; RQ's own Redis commands are not.
    assert len(trace.db_spans()) == 4
    assert not [s for s in trace.spans if s.kind == "cache"]
    [enqueue] = [s for s in trace.spans if s.kind == "job.enqueue"]
    assert enqueue.attrs["task"] == f"{__name__}.lookups"
    assert enqueue.location is not None and enqueue.location.path == __file__
    # The waterfall names the task and its queue.
    queue = enqueue.attrs["queue"]
    assert queue.startswith("pdjobs_")
    assert span_label(enqueue, limit=200) == f"enqueue {__name__}.lookups → {queue}"


def test_rq_failed_job_names_its_error_and_rq_records_the_failure(
    tmp_path: Path, rq_queue: Any
) -> None:
    from rq import SimpleWorker

    queue = rq_queue()
    with capturing(tmp_path / "traces.db"):
        with perfdoctor.trace("POST /digest", kind="http"):
            job = queue.enqueue(failing)
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert job.get_status(refresh=True) == "failed"
    traces = load(tmp_path / "traces.db")
    [request] = named(traces, "POST ")
    [run] = named(traces, "task ")
    assert run.name == f"task {__name__}.failing"
    assert run.attrs["job"]["error"] == "LookupError"
    assert run.attrs["job"]["enqueued_by"] == request.id
    assert run.attrs["job"]["wait_ms"] >= 0
    # Only the job's own work: RQ's bookkeeping around it is not in its trace.
    assert [s.kind for s in run.spans] == ["db.connect", "db"]


def test_dramatiq_worker_threads_link_the_run_and_name_its_error(tmp_path: Path) -> None:
    import dramatiq
    from dramatiq import Worker
    from dramatiq.brokers.stub import StubBroker

    with capturing(tmp_path / "traces.db"):
        broker = StubBroker()
        broker.emit_after("process_boot")
        ok = dramatiq.actor(lookups, broker=broker, actor_name="pdjobs_lookups")
        bad = dramatiq.actor(failing, broker=broker, actor_name="pdjobs_failing", max_retries=0)
        with perfdoctor.trace("POST /digest", kind="http"):
            ok.send(2)
            bad.send()
        worker = Worker(broker, worker_threads=2)
        worker.start()
        try:
            broker.join(ok.queue_name, fail_fast=False)
            worker.join()
        finally:
            worker.stop()
    traces = load(tmp_path / "traces.db")
    [request] = named(traces, "POST ")
    runs = {t.name: t for t in named(traces, "task ")}
    assert set(runs) == {f"task {__name__}.lookups", f"task {__name__}.failing"}
    for run in runs.values():
        assert run.attrs["job"]["enqueued_by"] == request.id
        assert run.attrs["job"]["queue"] == "default"
    assert runs[f"task {__name__}.failing"].attrs["job"]["error"] == "LookupError"
    assert "error" not in runs[f"task {__name__}.lookups"].attrs["job"]
    assert len(runs[f"task {__name__}.lookups"].db_spans()) == 2
