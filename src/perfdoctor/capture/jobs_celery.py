"""Celery: each task run a trace, through Celery's own signals.

``task_prerun``/``task_postrun`` open and close the run's trace (in the process
and thread that runs it: the solo pool, a prefork child, a thread of the threads
pool); ``before_task_publish`` adds the enqueuing trace's id and the time to the
message headers, which the worker reads back on ``task.request``.  A prefork
child ends with ``os._exit``: ``worker_process_shutdown`` writes its traces first.
``Celery.send_task``, which every ``delay``/``apply_async`` ends in, is the
``job.enqueue`` span.  Storing a run's state and result (``Backend.store_result``,
run inside the task's trace) is Celery's bookkeeping: its queries and Redis
commands are left out.
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Any

from perfdoctor.capture import context, jobs

SYSTEM = "celery"
_MARK = "__perfdoctor_original__"
_UID = "perfdoctor"

# (task id, thread) -> the run in progress: prerun and postrun are separate calls.
_runs: dict[tuple[str, int], jobs.Run] = {}


def _before_publish(headers: Any = None, routing_key: Any = None, **_: Any) -> None:
    try:
        if isinstance(headers, dict):
            headers.update(jobs.link(headers))
        pending = jobs.pending()
        if pending is not None and routing_key:
            pending.attrs["queue"] = str(routing_key)
    except Exception:  # never break the host app
        pass


def _prerun(task_id: Any = None, task: Any = None, **_: Any) -> None:
    try:
        request = getattr(task, "request", None)
        delivery = getattr(request, "delivery_info", None) or {}
        run = jobs.begin(
            str(getattr(task, "name", None) or "celery-task"),
            SYSTEM,
            queue=delivery.get("routing_key") if isinstance(delivery, dict) else None,
            job_id=task_id,
            enqueued_at=jobs.epoch(getattr(request, jobs.TIME_KEY, None)),
            eta=jobs.epoch(getattr(request, "eta", None)),
            enqueued_by=getattr(request, jobs.LINK_KEY, None),
            retries=getattr(request, "retries", None),
            func=getattr(task, "run", None),
        )
        if run is not None:
            _runs[(str(task_id), threading.get_ident())] = run
    except Exception:  # never break the worker
        pass


def _postrun(task_id: Any = None, retval: Any = None, **_: Any) -> None:
    run = _runs.pop((str(task_id), threading.get_ident()), None)
    # A failed run's return value is its exception (state FAILURE or RETRY).
    jobs.end(run, retval if isinstance(retval, BaseException) else None)


def _worker_started(**_: Any) -> None:
    jobs.serving()


def _pool_process_exits(**_: Any) -> None:
    jobs.flush(process_exits=True)


def _wrap_send_task(app_cls: type) -> None:
    original = app_cls.__dict__.get("send_task")
    if original is None or hasattr(original, _MARK):
        return

    def send_task(self: Any, name: Any, *args: Any, **kwargs: Any) -> Any:
        return jobs.enqueue(SYSTEM, name, original, self, name, *args, **kwargs)

    send_task.__doc__ = original.__doc__
    setattr(send_task, _MARK, original)
    app_cls.send_task = send_task  # type: ignore[attr-defined]


def install(base: ModuleType) -> None:
    """``celery.app.base``: the signals (imported with it) and ``Celery.send_task``."""
    from celery import signals

    receivers = (
        (signals.before_task_publish, _before_publish),
        (signals.task_prerun, _prerun),
        (signals.task_postrun, _postrun),
        (signals.worker_init, _worker_started),
        (signals.worker_process_init, _worker_started),
        (signals.worker_process_shutdown, _pool_process_exits),
    )
    for signal, receiver in receivers:
        signal.connect(receiver, weak=False, dispatch_uid=_UID)
    _wrap_send_task(base.Celery)


def install_backend(backends: ModuleType) -> None:
    """``celery.backends.base``: result storing muted."""
    backend = backends.Backend
    original = backend.__dict__.get("store_result")
    if original is None or hasattr(original, _MARK):
        return
    muted = context.muted(original)
    setattr(muted, _MARK, original)
    backend.store_result = muted
