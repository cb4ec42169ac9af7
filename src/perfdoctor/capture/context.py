"""The trace in progress and the hot-path recording of spans.

Everything here runs inside the user's request, so it does as little as it
can: it reads a context variable, takes two clock readings, walks a few frames
and appends a tuple.  Formatting, SQL normalisation and storage happen later in
the recorder's thread.  Nothing here may raise into the host application.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from perfdoctor import callsite
from perfdoctor.capture.machine import sampler as _machine
from perfdoctor.capture.offset import offset_param
from perfdoctor.capture.offset import remember as _remember_statement
from perfdoctor.capture.offset import statements as _statements
from perfdoctor.capture.tally import Tally
from perfdoctor.model import SERVER_KIND

perf_counter = time.perf_counter
_capture_caller = callsite.capture_caller
_getframe = sys._getframe
# The event loop running in this thread, if any: a synchronous call made while one
# runs blocks every other request the loop serves (``blocking-in-async``).
_running_loop = asyncio._get_running_loop


class ActiveTrace:
    """A trace being captured; turned into a :class:`perfdoctor.model.Trace` when done."""

    __slots__ = (
        "anchor",
        "attrs",
        "cpu0",
        "detail",
        "dropped",
        "finished",
        "id",
        "kind",
        "name",
        "next_db_attrs",
        "sampled",
        "spans",
        "start",
        "started_at",
        "status",
    )

    def __init__(self, name: str, kind: str) -> None:
        self.id = uuid.uuid4().hex
        self.name = name
        self.kind = kind
        self.started_at = time.time()
        self.start = perf_counter()
        self.cpu0 = time.thread_time()
        self.spans: list[tuple[Any, ...]] = []
        self.status: int | None = None
        self.attrs: dict[str, Any] = {}
        self.dropped = 0
        self.finished: float | None = None
        # The head decision (``--sample``): kept whatever happens, or only if
        # the request turns out slow or failed.
        self.sampled = True
        # False: a request the draw left out under ``--sample-tail summary``: its
        # operations are not recorded, only its name, status and timings.
        self.detail = True
        self.anchor: callsite.Anchor | None = None
        # Attributes the trace's next db span carries (an ORM hook names there the
        # relation a relationship load is for): set before the query, taken by it.
        self.next_db_attrs: dict[str, Any] | None = None


_current: contextvars.ContextVar[ActiveTrace | None] = contextvars.ContextVar(
    "perfdoctor_trace", default=None
)


class _State:
    """Process-wide capture switches, set by :func:`perfdoctor.instrument`."""

    enabled = False
    capture_params = False
    max_spans = 10_000
    stack_depth = 5
    # In `perfdoctor run`, work outside any request belongs to one trace per process
    # (a script, a management command, a server's start-up).
    process_trace: ActiveTrace | None = None
    process_trace_name: str | None = None
    process_pid = 0
    requests_started = 0
    on_finish: Callable[[ActiveTrace], None] | None = None
    # Called with each trace that starts (``--memory`` notes the baseline there).
    on_start: Callable[[ActiveTrace], None] | None = None
    # Sampling (``--sample``): the share of requests kept by the head draw, the
    # draw itself, and the tail rule with its counts (the recorder takes them).
    sample_rate = 1.0
    # ``--sample-tail summary``: a request the draw leaves out is not captured.
    sample_summary = False
    sample_draw: Callable[[], float] = random.random
    tail = Tally(1.0, 500.0)
    # Called when a request's trace is dropped (the recorder writes the counts).
    on_drop: Callable[[], None] | None = None


state = _State()


def current() -> ActiveTrace | None:
    """The trace that records this context's operations, if any.

    None inside a request that records nothing (``--sample-tail summary``), where
    the integrations then do no work; the trace itself stays in ``_current``, so
    that a framework's own hook opens no trace of its own in it.
    """
    trace = _current.get()
    if trace is not None:
        return trace if trace.detail else None
    if state.process_trace_name is None:
        return None
    if state.process_trace is None or state.process_pid != os.getpid():
        state.process_trace = ActiveTrace(state.process_trace_name, "script")
        state.process_pid = os.getpid()
    return state.process_trace


def start(
    name: str, kind: str = "http", anchor_depth: int = 1
) -> tuple[ActiveTrace, contextvars.Token[ActiveTrace | None]]:
    """Open a trace in this context.

    ``anchor_depth``: which caller of this function runs for the whole trace
    (1: the caller itself), so the call-site walk can stop there
    (:class:`perfdoctor.callsite.Anchor`).
    """
    trace = ActiveTrace(name, kind)
    if kind == "http":
        state.requests_started += 1
        if state.sample_rate < 1.0:
            trace.sampled = state.sample_draw() < state.sample_rate
            if not trace.sampled and state.sample_summary:
                # Current all the same (the integrations see a request under way and
                # open no trace of their own), but recording nothing: no anchor, no
                # per-request hooks (a profiler, the memory tracker).
                trace.detail = False
                return trace, _current.set(trace)
    try:
        trace.anchor = callsite.Anchor(callsite.anchor_frame(_getframe(anchor_depth)))
    except Exception:  # pragma: no cover - a stack shallower than asked
        pass
    if state.on_start is not None:
        state.on_start(trace)
    return trace, _current.set(trace)


# Traces whose response body is sent after the app returned (a streamed body),
# each with what ends it: normally the body's close(), at the latest the exit.
_handed_off: dict[ActiveTrace, Callable[[], None]] = {}
if hasattr(os, "register_at_fork"):
    # A forked worker's exit is not the end of its parent's responses.
    os.register_at_fork(after_in_child=_handed_off.clear)


def hand_off(
    trace: ActiveTrace, token: contextvars.Token[ActiveTrace | None], end: Callable[[], None]
) -> None:
    """The app returned a body the server sends later: leave the context, keep ``trace`` open.

    ``end`` finishes the trace; it is called at exit if the body is still open then.
    """
    try:
        try:
            _current.reset(token)
        except ValueError:
            _current.set(None)
        _handed_off[trace] = end
        anchor = trace.anchor
        if anchor is not None:
            # The frame that opened the trace has returned: no walk meets it again.
            trace.anchor = None
            anchor.release()
    except Exception:  # pragma: no cover - defensive
        pass


def finish(
    trace: ActiveTrace,
    token: contextvars.Token[ActiveTrace | None] | None,
    ended: float | None = None,
) -> None:
    """Close a trace and hand it to the recorder.  Never raises.

    ``ended``: when it ended (a ``perf_counter`` reading), if not now.
    """
    try:
        _handed_off.pop(trace, None)
        anchor = trace.anchor
        if anchor is not None:
            # A finished trace must not keep the frame (and its locals) alive.
            trace.anchor = None
            anchor.release()
        if token is not None:
            try:
                _current.reset(token)
            except ValueError:
                # Reset from another context (a streamed response closed elsewhere).
                _current.set(None)
        if trace.finished is not None:
            return
        trace.finished = finished = perf_counter() if ended is None else ended
        if state.sample_rate < 1.0 and trace.kind == "http":
            # The tail rule (perfdoctor.capture.tally), in line: once per request.
            # A failed (5xx, or raised) or slow request is always kept, so its
            # weight is 1; another when the head draw chose it, standing for 1/rate.
            status = trace.status
            sample = state.tail.decide(
                trace.name,
                status is not None and status >= 500,
                (finished - trace.start) * 1000.0,
                trace.sampled,
            )
            if sample is None:
                drop = state.on_drop
                if drop is not None:
                    drop()
                return
            if not trace.detail:
                # Kept by the tail rule with no operations recorded: reports leave it
                # out of the per-request counts of queries and calls.
                sample["summary"] = True
            trace.attrs["sample"] = sample
        trace.attrs.setdefault("cpu_ms", (time.thread_time() - trace.cpu0) * 1000.0)
        machine = _machine.reading(finished)
        if machine is not None:
            trace.attrs["machine"] = machine
        handler = state.on_finish
        if handler is not None:
            handler(trace)
    except Exception:  # pragma: no cover - defensive: never break the host app
        pass


def take_sample_counts() -> list[tuple[str, int, int]]:
    """The counts since the last call, as (endpoint, seen, kept) rows; reset."""
    return state.tail.take_counts()


def has_sample_counts() -> bool:
    """Whether counts wait for :func:`take_sample_counts`."""
    return bool(state.tail.counts)


def _forget_sample_counts() -> None:
    # A forked worker counts its own requests; the parent writes what it had.
    state.tail.forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_sample_counts)


def finish_process_trace() -> None:
    """End the process's own trace, and every response still streaming: the process ends."""
    for end in list(_handed_off.values()):
        try:
            end()
        except Exception:  # pragma: no cover - defensive
            pass
    _handed_off.clear()
    trace = state.process_trace
    state.process_trace = None
    if trace is not None and trace.spans and state.process_pid == os.getpid():
        if state.requests_started:
            # A server's own work outside requests (start-up, checks): not an endpoint.
            trace.kind = SERVER_KIND
        finish(trace, None)


def params_key(sql: Any, params: Any) -> int | None:
    """A hash of statement and parameters: equal within a process, never the values."""
    try:
        if params is None:
            return hash(sql)
        if isinstance(params, list):
            params = tuple(params)
        elif isinstance(params, dict):
            params = tuple(sorted(params.items()))
        return hash((sql, params))
    except TypeError:
        try:
            return hash((sql, repr(params)))
        except Exception:
            return None


# Queries a library runs for its own bookkeeping are not the application's work:
# Django's SQLite backend, with DEBUG on, runs ``SELECT QUOTE(?)`` after every
# query only to log it.  Integrations wrap such functions with :func:`muted`.
_muted: contextvars.ContextVar[bool] = contextvars.ContextVar("perfdoctor_muted", default=False)


def muted(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` with the db operations it runs left out of the trace."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = _muted.set(True)
        try:
            return func(*args, **kwargs)
        finally:
            _muted.reset(token)

    return wrapper


def record_db(
    trace: ActiveTrace,
    system: str,
    sql: Any,
    params: Any,
    started: float,
    ended: float,
    connection_id: int | None,
    rows: int | list[int] | None = None,
    blocking: bool = True,
) -> None:
    """Append one db span to ``trace``.  Called by every driver integration.

    ``blocking`` is true for a synchronous driver: the span is then marked when
    it ran on a thread whose asyncio event loop it held up.
    """
    try:
        if _muted.get() or not trace.detail:
            return
        announced = trace.next_db_attrs
        if announced is not None:
            trace.next_db_attrs = None
        spans = trace.spans
        if len(spans) >= state.max_spans:
            trace.dropped += 1
            return
        frames, framework, trigger = _capture_caller(2, state.stack_depth, trace.anchor)
        # params_key(sql, params), without a call for the usual tuple of parameters.
        key: int | None
        try:
            key = hash((sql, params)) if type(params) is tuple else params_key(sql, params)
        except TypeError:
            key = params_key(sql, params)
        extra = _BLOCKED_LOOP if blocking and _running_loop() is not None else None
        # The statement as first seen, and whether it has an OFFSET: remembered for
        # statements that are str (another object, a str subclass among them, is kept
        # as it is and not looked at for an OFFSET).
        statement = sql
        has_offset = False
        if type(sql) is str:
            known = _statements.get(sql)
            if known is None:
                known = _remember_statement(sql)
            statement, has_offset = known
        if has_offset:
            # Kept as a number only (``large-offset``): literals are stripped later.
            offset = offset_param(sql, params)
            if offset is not None:
                extra = {"offset": offset, **(extra or {})}
        if announced is not None:
            extra = announced if extra is None else {**announced, **extra}
        if trigger is not None:
            # Raw names and a class or template object; made text in the recorder.
            extra = {"trigger": trigger} if extra is None else {"trigger": trigger, **extra}
        spans.append(
            (
                "db",
                started - trace.start,
                ended - started,
                frames,
                framework,
                system,
                statement,
                key,
                params if state.capture_params else None,
                # an int, or a one-item list a cursor keeps counting fetched rows into
                rows,
                connection_id,
                extra,
            )
        )
    except Exception:  # pragma: no cover - defensive
        pass


_BLOCKED_LOOP: dict[str, object] = {"blocks_event_loop": True}


def record_span(
    trace: ActiveTrace,
    kind: str,
    started: float,
    ended: float,
    attrs: dict[str, Any],
    *,
    blocking: bool = False,
    skip: int = 2,
) -> None:
    """Append a span of any other kind (``http``, ``cache``, ``db.connect``...).

    ``attrs`` holds the span's facts (see :mod:`perfdoctor.model`); it must
    hold no parameter values, cookies or credentials.  ``skip`` is how many
    frames above this function's caller the call site search starts (the
    default starts at the caller's caller: the integration's wrapper is skipped
    anyway, being perfdoctor's own code).
    """
    try:
        if _muted.get() or not trace.detail:
            return
        spans = trace.spans
        if len(spans) >= state.max_spans:
            trace.dropped += 1
            return
        # No trigger kept: its names are not read.
        frames, framework, _trigger = _capture_caller(
            skip, state.stack_depth, trace.anchor, False
        )
        if blocking and _running_loop() is not None:
            attrs["blocks_event_loop"] = True
        spans.append((kind, started - trace.start, ended - started, frames, framework, attrs))
    except Exception:  # pragma: no cover - defensive
        pass


def record_connect(
    trace: ActiveTrace,
    system: str,
    started: float,
    connection: object,
    *,
    blocking: bool = False,
) -> None:
    """Append a ``db.connect`` span: ``connection`` opened from ``started`` until now.

    Every driver integration times a new connection the same way; the span's
    ``connection_id`` is the one its queries carry.
    """
    ended = perf_counter()
    # Three frames up: record_span <- here <- the driver's wrapper <- its caller.
    record_span(
        trace,
        "db.connect",
        started,
        ended,
        # The thread's name: a server that runs each request in a thread of its
        # own (Django's runserver) keeps no per-thread connection past a request.
        {
            "system": system,
            "connection_id": id(connection),
            "thread": threading.current_thread().name,
        },
        blocking=blocking,
        skip=3,
    )
