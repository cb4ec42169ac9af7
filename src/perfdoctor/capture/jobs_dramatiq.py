"""Dramatiq: each message processed a trace, through a middleware every broker gets.

``before_process_message``/``after_process_message`` run on the worker thread
that calls the actor, so they open and close its trace; ``before_enqueue`` adds
the enqueuing trace's id and the time to the message options.  A worker process
ends with ``os._exit`` (multiprocessing): ``after_worker_shutdown`` writes its
traces first.  ``Actor.send_with_options``, which ``send`` ends in, is the
``job.enqueue`` span.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

from perfdoctor.capture import jobs

SYSTEM = "dramatiq"
_MARK = "__perfdoctor_original__"

# The run in progress on this worker thread: before and after are separate calls.
_local = threading.local()


def task_name(actor: Any, fallback: Any) -> str:
    """The actor's function as ``module.function``; its actor name when unknown."""
    fn = getattr(actor, "fn", None)
    module = getattr(fn, "__module__", None)
    name = getattr(fn, "__qualname__", None)
    if isinstance(module, str) and isinstance(name, str):
        return f"{module}.{name}"
    return str(fallback)


def _actor_of(broker: Any, message: Any) -> Any:
    try:
        return broker.get_actor(message.actor_name)
    except Exception:
        return None


def _before_process(broker: Any, message: Any) -> None:
    try:
        options = getattr(message, "options", None) or {}
        timestamp = getattr(message, "message_timestamp", None)
        eta = options.get("eta")
        actor = _actor_of(broker, message)
        _local.run = jobs.begin(
            task_name(actor, getattr(message, "actor_name", "?")),
            SYSTEM,
            queue=getattr(message, "queue_name", None),
            job_id=getattr(message, "message_id", None),
            enqueued_at=jobs.epoch(options.get(jobs.TIME_KEY))
            or (timestamp / 1000.0 if isinstance(timestamp, (int, float)) else None),
            eta=eta / 1000.0 if isinstance(eta, (int, float)) else None,
            enqueued_by=options.get(jobs.LINK_KEY),
            retries=options.get("retries"),
            func=getattr(actor, "fn", None),
        )
    except Exception:  # never break the worker
        _local.run = None


def _after_process(exception: BaseException | None = None) -> None:
    run = getattr(_local, "run", None)
    _local.run = None
    jobs.end(run, exception)


def _before_enqueue(message: Any) -> None:
    try:
        options = message.options
        if isinstance(options, dict):
            options.update(jobs.link(options))
        pending = jobs.pending()
        if pending is not None:
            pending.attrs["queue"] = str(message.queue_name)
    except Exception:  # never break the host app
        pass


def _middleware_class(middleware: ModuleType) -> type:
    class PerfdoctorMiddleware(middleware.Middleware):  # type: ignore[name-defined,misc]
        """Each message processed a trace; who enqueued it travels in its options."""

        def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
            _before_enqueue(message)

        def before_process_message(self, broker: Any, message: Any) -> None:
            _before_process(broker, message)

        def after_process_message(
            self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
        ) -> None:
            _after_process(exception)

        def after_skip_message(self, broker: Any, message: Any) -> None:
            _after_process(None)

        def before_worker_boot(self, broker: Any, worker: Any) -> None:
            jobs.serving()

        def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
            jobs.flush(process_exits=True)

    return PerfdoctorMiddleware


def _wrap_init(broker_cls: type, middleware_cls: type) -> None:
    original = broker_cls.__dict__.get("__init__")
    if original is None or hasattr(original, _MARK):
        return

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        try:
            if not any(isinstance(m, middleware_cls) for m in self.middleware):
                self.add_middleware(middleware_cls())
        except Exception:  # never break the host app
            pass

    setattr(__init__, _MARK, original)
    broker_cls.__init__ = __init__  # type: ignore[misc]


def _wrap_send(actor_cls: type) -> None:
    original: Callable[..., Any] | None = actor_cls.__dict__.get("send_with_options")
    if original is None or hasattr(original, _MARK):
        return
    send = original

    @functools.wraps(send)
    def send_with_options(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = task_name(self, getattr(self, "actor_name", None))
        return jobs.enqueue(SYSTEM, name, send, self, *args, **kwargs)

    setattr(send_with_options, _MARK, original)
    actor_cls.send_with_options = send_with_options  # type: ignore[attr-defined]


def install_broker(module: ModuleType) -> None:
    """``dramatiq.broker``: every broker made from now on gets the middleware."""
    # Loaded by dramatiq.broker itself, while the dramatiq package may still be
    # importing: taken from sys.modules, not as the package's attribute.
    middleware = importlib.import_module("dramatiq.middleware")
    _wrap_init(module.Broker, _middleware_class(middleware))


def install_actor(module: ModuleType) -> None:
    """``dramatiq.actor``: the enqueue span."""
    _wrap_send(module.Actor)
