"""RQ: each job run a trace, around the call of the job's own function.

The enqueue side: ``Job.create`` puts the enqueuing trace's id in the job's
``meta``, which RQ saves with the job; ``Queue.enqueue_job`` and
``Queue.schedule_job`` are the ``job.enqueue`` span.  The worker forks a work
horse per job, which ends with ``os._exit``: ``perform_job`` writes the horse's
trace before returning to it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from perfdoctor.capture import jobs

SYSTEM = "rq"
_MARK = "__perfdoctor_original__"


def _wrap(cls: type, name: str, make: Callable[[Any], Callable[..., Any]]) -> None:
    original = cls.__dict__.get(name)
    if original is None or hasattr(original, _MARK):
        return
    wrapper = make(original)
    setattr(wrapper, _MARK, original)
    setattr(cls, name, wrapper)


def _create(original: Any) -> Any:
    create = original.__func__

    @functools.wraps(create)
    def wrapper(cls: Any, *args: Any, **kwargs: Any) -> Any:
        job = create(cls, *args, **kwargs)
        try:
            meta = job.meta
            if isinstance(meta, dict):
                meta.update(jobs.link(meta))
        except Exception:  # never break the host app
            pass
        return job

    return classmethod(wrapper)


def _perform(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def perform(self: Any) -> Any:
        run = _begin(self)
        error: BaseException | None = None
        try:
            return original(self)
        except BaseException as exc:
            error = exc
            raise
        finally:
            jobs.end(run, error)

    return perform


def _begin(job: Any) -> jobs.Run | None:
    try:
        meta = getattr(job, "meta", None) or {}
        meta = meta if isinstance(meta, dict) else {}
        return jobs.begin(
            str(getattr(job, "func_name", None) or "rq-job"),
            SYSTEM,
            queue=getattr(job, "origin", None),
            job_id=getattr(job, "id", None),
            # When it entered the queue: a scheduled or dependent job enters it
            # when due, after it was created.
            enqueued_at=jobs.epoch(getattr(job, "enqueued_at", None))
            or jobs.epoch(meta.get(jobs.TIME_KEY)),
            enqueued_by=meta.get(jobs.LINK_KEY),
            func=_function(job),
        )
    except Exception:  # never break the worker
        return None


def _function(job: Any) -> Any:
    try:
        return job.func
    except Exception:  # not importable: the job fails in RQ's hands, still traced
        return None


def _enqueue_with_job(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def enqueue(self: Any, job: Any, *args: Any, **kwargs: Any) -> Any:
        task = getattr(job, "func_name", None)
        return jobs.enqueue(SYSTEM, task, _with_queue(original, self), job, *args, **kwargs)

    return enqueue


def _with_queue(original: Callable[..., Any], queue: Any) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        pending = jobs.pending()
        if pending is not None:
            pending.attrs["queue"] = str(getattr(queue, "name", ""))
        return original(queue, *args, **kwargs)

    return call


def _perform_job(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def perform_job(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        finally:
            if getattr(self, "_is_horse", False):
                # The horse exits with os._exit right after: no atexit, no thread.
                jobs.flush()

    return perform_job


def _work(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def work(self: Any, *args: Any, **kwargs: Any) -> Any:
        jobs.serving()
        return original(self, *args, **kwargs)

    return work


def install_job(module: ModuleType) -> None:
    """``rq.job``: the run's trace, and the link written on creation.

    ``Job._execute`` calls the job's function and nothing else; ``perform``
    around it also runs RQ's own Redis commands (a PERSIST of the job's key up to
    RQ 1.x), which are not the job's cache calls.
    """
    job = module.Job
    _wrap(job, "_execute" if "_execute" in job.__dict__ else "perform", _perform)
    _wrap(job, "create", _create)


def install_queue(module: ModuleType) -> None:
    """``rq.queue``: the enqueue span."""
    _wrap(module.Queue, "enqueue_job", _enqueue_with_job)
    _wrap(module.Queue, "schedule_job", _enqueue_with_job)


def install_worker(module: ModuleType) -> None:
    """``rq.worker``: the horse's traces written before it exits; the worker marked."""
    # Defined on Worker up to RQ 1.x, on BaseWorker since: wrapped where defined.
    for name in ("BaseWorker", "Worker"):
        worker = getattr(module, name, None)
        if isinstance(worker, type):
            _wrap(worker, "perform_job", _perform_job)
            _wrap(worker, "work", _work)
