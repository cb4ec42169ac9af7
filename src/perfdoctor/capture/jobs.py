"""Queued tasks (Celery, RQ, Dramatiq): each run its own trace, linked to who enqueued it.

The integrations (``jobs_celery``, ``jobs_rq``, ``jobs_dramatiq``) only translate
their library's hooks into the calls here.  A run is a trace of kind ``job``
named ``task <dotted.name>``; its ``job`` attribute says how long it waited in
the queue and ran, and which trace enqueued it: the enqueuing trace's id travels
with the message (an id, never the task's arguments).  The enqueue itself is one
``job.enqueue`` span in the enqueuing trace, at the user's line; the broker
commands the library sends for it are its own bookkeeping, not the app's cache
calls, and are left out.

A task run inline, inside a trace already in progress (Celery's eager mode, an
RQ queue with ``is_async=False``), is part of that trace and gets none of its own.
"""

from __future__ import annotations

import contextvars
import datetime
import time
from collections.abc import Callable
from typing import Any

from perfdoctor.capture import context
from perfdoctor.capture.response import handler_location
from perfdoctor.model import JOB_KIND

ENQUEUE_SPAN = "job.enqueue"
# The keys perfdoctor adds to a message (Celery headers, RQ job meta, Dramatiq
# message options): the enqueuing trace's id and when it was enqueued (epoch s).
LINK_KEY = "perfdoctor_enqueued_by"
TIME_KEY = "perfdoctor_enqueued_at"


def link(carried: Any = None) -> dict[str, Any]:
    """What an enqueued message carries: who enqueued it (a trace id) and when.

    ``carried``: what the message already holds.  A message enqueued again (a
    retry, which a worker's middleware may send from outside any trace) keeps the
    trace that first enqueued it; its time is the new enqueue's.  Empty when
    capture is off.
    """
    try:
        if not context.state.enabled:
            return {}
        first = carried.get(LINK_KEY) if isinstance(carried, dict) else None
        if not isinstance(first, str) or not first:
            trace = context.current()
            first = trace.id if trace is not None else None
        found: dict[str, Any] = {TIME_KEY: time.time()}
        if first:
            found[LINK_KEY] = first
        return found
    except Exception:  # never break the host app
        return {}


def epoch(value: Any) -> float | None:
    """A timestamp from a message as seconds since the epoch (naive datetimes are UTC)."""
    try:
        if value is None or isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, bytes):
            value = value.decode("ascii")
        if isinstance(value, str):
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None:
                # datetime.UTC is 3.11+; capture runs in apps on 3.9.
                value = value.replace(tzinfo=datetime.timezone.utc)
            return float(value.timestamp())
    except (ValueError, TypeError, OverflowError, UnicodeDecodeError):
        pass
    return None


class Run:
    """One task run being traced; ``trace`` is None for a run inline in another trace."""

    __slots__ = ("token", "trace", "unmuted")

    def __init__(self, trace: context.ActiveTrace | None, token: Any, unmuted: Any) -> None:
        self.trace = trace
        self.token = token
        self.unmuted = unmuted


def begin(
    task: str,
    system: str,
    *,
    queue: Any = None,
    job_id: Any = None,
    enqueued_at: float | None = None,
    eta: float | None = None,
    enqueued_by: Any = None,
    retries: Any = None,
    func: Any = None,
) -> Run | None:
    """Start the trace of one task run; None when capture is off.

    ``eta``: when a delayed task was due; its wait in the queue counts from then.
    ``func``: the task's function, where findings about the whole run point.
    """
    try:
        if not context.state.enabled:
            return None
        # The task's own work is the app's, even when run from a muted enqueue
        # (an RQ queue that runs jobs synchronously).
        unmuted = context._muted.set(False)
        if context._current.get() is not None:
            return Run(None, None, unmuted)
        trace, token = context.start(f"task {task}", JOB_KIND)
        facts: dict[str, Any] = {"system": system, "task": task}
        if queue is not None:
            facts["queue"] = str(queue)
        if job_id is not None:
            facts["id"] = str(job_id)
        due = [t for t in (enqueued_at, eta) if t is not None]
        if due:
            facts["wait_ms"] = round(max(0.0, trace.started_at - max(due)) * 1000.0, 3)
        if isinstance(enqueued_by, str) and enqueued_by:
            facts["enqueued_by"] = enqueued_by
        if isinstance(retries, int) and not isinstance(retries, bool) and retries > 0:
            facts["retries"] = retries
        trace.attrs["job"] = facts
        handler = handler_location(func) if func is not None else None
        if handler is not None:
            trace.attrs["handler"] = handler
        return Run(trace, token, unmuted)
    except Exception:  # never break the host app
        return None


def end(run: Run | None, error: BaseException | None = None) -> None:
    """Close a task's trace.  Never raises."""
    if run is None:
        return
    try:
        context._muted.reset(run.unmuted)
    except (ValueError, RuntimeError):  # reset from another context: leave it
        pass
    trace = run.trace
    if trace is None:
        return
    ended = context.perf_counter()
    try:
        facts = trace.attrs.get("job")
        if isinstance(facts, dict):
            # The trace's own duration, also kept beside the wait.
            facts["run_ms"] = round((ended - trace.start) * 1000.0, 3)
            if error is not None:
                facts["error"] = type(error).__name__
    except Exception:
        pass
    context.finish(trace, run.token, ended)


def serving() -> None:
    """This process is a worker: its own work outside tasks (start-up, polling the
    broker) is a server's, analysed but not shown as an endpoint."""
    context.state.requests_started += 1


def flush(process_exits: bool = False) -> None:
    """Write the finished traces now: a worker process about to end with ``os._exit``
    (an RQ work horse, a Celery or Dramatiq pool process) runs no ``atexit``.

    With ``process_exits`` the process's own trace is finished and written too.
    """
    try:
        if process_exits:
            context.finish_process_trace()
        from perfdoctor.capture import auto

        auto.flush()
    except Exception:  # never break the worker
        pass


class Enqueue:
    """One enqueue call in progress: its facts, filled in as the library goes."""

    __slots__ = ("attrs", "started", "trace")

    def __init__(self, trace: context.ActiveTrace, system: str, task: Any) -> None:
        self.trace = trace
        self.attrs: dict[str, Any] = {"system": system}
        if task is not None:
            self.attrs["task"] = str(task)
        self.started = context.perf_counter()


_enqueue: contextvars.ContextVar[Enqueue | None] = contextvars.ContextVar(
    "perfdoctor_enqueue", default=None
)


def pending() -> Enqueue | None:
    """The enqueue call in progress in this context, if any (for hooks to add facts to)."""
    return _enqueue.get()


def enqueue(system: str, task: Any, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)``, a library's enqueue, as one ``job.enqueue`` span.

    The broker commands it sends are muted: they are the queue's bookkeeping.
    """
    if not context.state.enabled or _enqueue.get() is not None:
        return call(*args, **kwargs)
    try:
        trace = context.current()
        if trace is None:
            return call(*args, **kwargs)
        current = Enqueue(trace, system, task)
        token = _enqueue.set(current)
        muted = context._muted.set(True)
    except Exception:  # never break the host app
        return call(*args, **kwargs)
    error: BaseException | None = None
    try:
        return call(*args, **kwargs)
    except BaseException as exc:
        error = exc
        raise
    finally:
        _enqueued(current, token, muted, error)


def _enqueued(current: Enqueue, token: Any, muted: Any, error: BaseException | None) -> None:
    try:
        context._muted.reset(muted)
        _enqueue.reset(token)
    except (ValueError, RuntimeError):
        context._muted.set(False)
        _enqueue.set(None)
    try:
        if error is not None:
            current.attrs["error"] = type(error).__name__
        context.record_span(
            current.trace, ENQUEUE_SPAN, current.started, context.perf_counter(), current.attrs
        )
    except Exception:
        pass
