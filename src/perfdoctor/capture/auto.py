"""Switch capture on: patch every supported library as soon as it is imported."""

from __future__ import annotations

import atexit
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, ModuleType
from typing import TYPE_CHECKING

from perfdoctor import store
from perfdoctor.capture import context, eager, hooks, machine, sampling, server_timing
from perfdoctor.capture.recorder import Recorder
from perfdoctor.store import retention

if TYPE_CHECKING:
    from perfdoctor.capture.memory import MemoryTracker
    from perfdoctor.settings import Settings

ENV_ENABLED = "PERFDOCTOR_ENABLED"
ENV_CAPTURE_PARAMS = "PERFDOCTOR_CAPTURE_PARAMS"
ENV_MEMORY = "PERFDOCTOR_MEMORY"
ENV_PROFILE = "PERFDOCTOR_PROFILE"
# Where a process that could not switch capture on says why (read by `perfdoctor run`).
ENV_STATUS_DIR = "PERFDOCTOR_STATUS_DIR"

_recorder: Recorder | None = None
_memory_tracker: MemoryTracker | None = None


def _install_sqlite(_: ModuleType) -> None:
    from perfdoctor.capture import sqlite

    sqlite.install()


def _install_psycopg(module: ModuleType) -> None:
    from perfdoctor.capture import postgres

    postgres.install(module)


def _install_psycopg2(module: ModuleType) -> None:
    from perfdoctor.capture import postgres_psycopg2

    postgres_psycopg2.install(module)


def _install_pymysql(module: ModuleType) -> None:
    from perfdoctor.capture import mysql

    mysql.install(module)


def _install_pymysql_connect(module: ModuleType) -> None:
    from perfdoctor.capture import mysql

    mysql.install_connect(module)


def _install_mysqlclient_cursors(module: ModuleType) -> None:
    from perfdoctor.capture import mysql_mysqlclient

    mysql_mysqlclient.install_cursors(module)


def _install_mysqlclient_connections(module: ModuleType) -> None:
    from perfdoctor.capture import mysql_mysqlclient

    mysql_mysqlclient.install_connections(module)


def _install_mysql_connector_cursors(module: ModuleType) -> None:
    from perfdoctor.capture import mysql_connector

    mysql_connector.install_cursors(module)


def _install_mysql_connector_connection(module: ModuleType) -> None:
    from perfdoctor.capture import mysql_connector

    mysql_connector.install_connection(module)


def _install_django(module: ModuleType) -> None:
    from perfdoctor.capture import django

    django.install(module)


def _install_django_sqlite(module: ModuleType) -> None:
    from perfdoctor.capture import django

    django.install_sqlite_operations(module)


def _install_flask(module: ModuleType) -> None:
    from perfdoctor.capture import flask

    flask.install(module)


def _install_asyncpg(module: ModuleType) -> None:
    from perfdoctor.capture import asyncpg

    asyncpg.install(module)


def _install_aiosqlite(module: ModuleType) -> None:
    from perfdoctor.capture import aiosqlite

    aiosqlite.install(module)


def _install_starlette(module: ModuleType) -> None:
    from perfdoctor.capture import starlette

    starlette.install(module)


def _install_requests_sessions(module: ModuleType) -> None:
    from perfdoctor.capture import http_requests

    http_requests.install_sessions(module)


def _install_requests_adapters(module: ModuleType) -> None:
    from perfdoctor.capture import http_requests

    http_requests.install_adapters(module)


def _install_httpx(module: ModuleType) -> None:
    from perfdoctor.capture import http_httpx

    http_httpx.install(module)


def _install_urllib3(module: ModuleType) -> None:
    from perfdoctor.capture import http_urllib3

    http_urllib3.install(module)


def _install_http_client(module: ModuleType) -> None:
    from perfdoctor.capture import http_client

    http_client.install(module)


def _install_urllib(module: ModuleType) -> None:
    from perfdoctor.capture import http_urllib

    http_urllib.install(module)


def _install_aiohttp(module: ModuleType) -> None:
    from perfdoctor.capture import http_aiohttp

    http_aiohttp.install(module)


def _install_thread_pool(module: ModuleType) -> None:
    # Calls fanned out to a pool stay in the request that made them.
    from perfdoctor.capture import threads

    threads.install(module)


def _install_redis(module: ModuleType) -> None:
    from perfdoctor.capture import redis_py

    redis_py.install(module)


def _install_redis_asyncio(module: ModuleType) -> None:
    from perfdoctor.capture import redis_py

    redis_py.install_asyncio(module)


def _install_django_cache(module: ModuleType) -> None:
    from perfdoctor.capture import django_cache

    django_cache.install(module)


def _install_django_eager(module: ModuleType) -> None:
    from perfdoctor.capture import django_eager

    # The package, not django.db.models.query: the descriptors it needs import
    # from the package, complete only once the package is.
    django_eager.install(module.query)


def _install_sqlalchemy_eager(module: ModuleType) -> None:
    from perfdoctor.capture import sqlalchemy_eager

    sqlalchemy_eager.install(module)


def _install_graphql(module: ModuleType) -> None:
    from perfdoctor.capture import graphql

    graphql.install(module)


def _install_ariadne_asgi(module: ModuleType) -> None:
    from perfdoctor.capture import graphql

    graphql.install_ariadne_asgi(module)


def _install_ariadne_wsgi(module: ModuleType) -> None:
    from perfdoctor.capture import graphql

    graphql.install_ariadne_wsgi(module)


def _install_celery(module: ModuleType) -> None:
    from perfdoctor.capture import jobs_celery

    jobs_celery.install(module)


def _install_celery_backend(module: ModuleType) -> None:
    from perfdoctor.capture import jobs_celery

    jobs_celery.install_backend(module)


def _install_rq_job(module: ModuleType) -> None:
    from perfdoctor.capture import jobs_rq

    jobs_rq.install_job(module)


def _install_rq_queue(module: ModuleType) -> None:
    from perfdoctor.capture import jobs_rq

    jobs_rq.install_queue(module)


def _install_rq_worker(module: ModuleType) -> None:
    from perfdoctor.capture import jobs_rq

    jobs_rq.install_worker(module)


def _install_dramatiq_broker(module: ModuleType) -> None:
    from perfdoctor.capture import jobs_dramatiq

    jobs_dramatiq.install_broker(module)


def _install_dramatiq_actor(module: ModuleType) -> None:
    from perfdoctor.capture import jobs_dramatiq

    jobs_dramatiq.install_actor(module)


# module imported → how to instrument it.  A new integration is one line here
# plus its own module.
INTEGRATIONS = {
    "sqlite3": _install_sqlite,
    "psycopg": _install_psycopg,
    "psycopg2": _install_psycopg2,
    "pymysql.cursors": _install_pymysql,
    # imported by pymysql.connections before its Connection class exists
    "pymysql.connections": _install_pymysql_connect,
    # mysqlclient (PyMySQL installed as MySQLdb is left to the lines above)
    "MySQLdb.cursors": _install_mysqlclient_cursors,
    "MySQLdb.connections": _install_mysqlclient_connections,
    # mysql-connector-python: pure-Python and C-extension cursors
    "mysql.connector.cursor": _install_mysql_connector_cursors,
    "mysql.connector.cursor_cext": _install_mysql_connector_cursors,
    "mysql.connector.connection": _install_mysql_connector_connection,
    "django.core.handlers.base": _install_django,
    "django.db.backends.sqlite3.operations": _install_django_sqlite,
    # eager loads asked for and read (unused-eager-load)
    "django.db.models": _install_django_eager,
    "sqlalchemy.orm": _install_sqlalchemy_eager,
    "flask.app": _install_flask,
    "starlette.applications": _install_starlette,
    # GraphQL: operations name the trace (graphql-core 3.2, 3.3); Ariadne's own apps
    "graphql.execution.execute": _install_graphql,
    "graphql.execution.executor": _install_graphql,
    "ariadne.asgi.graphql": _install_ariadne_asgi,
    "ariadne.wsgi": _install_ariadne_wsgi,
    # outbound HTTP
    "requests.sessions": _install_requests_sessions,
    "requests.adapters": _install_requests_adapters,
    "httpx._client": _install_httpx,
    "urllib3.connectionpool": _install_urllib3,
    "aiohttp.client": _install_aiohttp,
    # the standard library: urllib.request, and http.client beneath it and SDKs
    "urllib.request": _install_urllib,
    "http.client": _install_http_client,
    "concurrent.futures.thread": _install_thread_pool,
    # caches
    "redis.client": _install_redis,
    "redis.asyncio.client": _install_redis_asyncio,
    "django.core.cache": _install_django_cache,
    # task queues: each task run a trace of its own (capture/jobs.py)
    "celery.app.base": _install_celery,
    "celery.backends.base": _install_celery_backend,
    "rq.job": _install_rq_job,
    "rq.queue": _install_rq_queue,
    "rq.worker": _install_rq_worker,
    "dramatiq.broker": _install_dramatiq_broker,
    "dramatiq.actor": _install_dramatiq_actor,
    # async databases
    "asyncpg": _install_asyncpg,
    "aiosqlite": _install_aiosqlite,
}


def instrument(
    traces: str | os.PathLike[str] | None = None,
    *,
    capture_params: bool = False,
    process_trace: str | None = None,
    memory: bool = False,
    profile: bool = False,
    max_store_mb: float | None = None,
    sample: float | None = None,
    sample_tail: str | None = None,
) -> Path:
    """Start capturing in this process; returns the path traces are written to.

    ``process_trace`` names one trace that collects work done outside any
    request (what ``perfdoctor run`` uses for scripts and jobs).  ``memory``
    also records each trace's peak allocations with tracemalloc (slower; see
    :mod:`perfdoctor.capture.memory`).  ``max_store_mb`` caps the store's size,
    dropping the oldest traces (0: no cap; by default what ``perfdoctor run``
    asked for, else the ``max_store_mb`` setting's default; see
    :mod:`perfdoctor.store.retention`).  ``sample`` keeps that share of requests
    (0 < sample <= 1; by default ``PERFDOCTOR_SAMPLE``, else 1: all), and every
    failed or slow one (see :mod:`perfdoctor.capture.sampling`); a bad value is a
    ValueError.  ``sample_tail`` "summary" captures only the requests the draw
    keeps, and keeps a slow or failed other one without its operations (by default
    ``PERFDOCTOR_SAMPLE_TAIL``, else "full"; see ``Settings.sample_tail``).
    """
    global _recorder
    from perfdoctor.settings import Settings

    path = Path(traces) if traces is not None else store.default_path()
    path = path.absolute()
    if _recorder is None or _recorder.path != path:
        if _recorder is not None:
            _recorder.close()
        _recorder = Recorder(path)
        # atexit runs last-registered first: the process trace is finished
        # before the recorder writes its final batch.
        atexit.register(context.finish_process_trace)
    settings = Settings()
    sampling.from_env(sample, settings.sample_slow_ms, sample_tail)
    context.state.on_drop = _recorder.dropped
    _recorder.retention.max_bytes = (
        retention.cap_bytes(max_store_mb)
        if max_store_mb is not None
        else retention.cap_from_env(settings.max_store_mb)
    )
    context.state.max_spans = settings.max_spans_per_trace
    context.state.stack_depth = settings.stack_depth
    eager.max_objects = settings.eager_watch_max_objects
    context.state.capture_params = capture_params
    context.state.on_finish = _recorder.submit
    machine.sampler.prime()
    context.state.on_start = None
    if _memory_tracker is not None:
        _memory_tracker.stop()
    if memory:
        _track_memory(settings, _recorder.submit)
    if profile:
        _profile(path)
    if process_trace is not None:
        context.state.process_trace_name = process_trace
    context.state.enabled = True
    for module_name, install in INTEGRATIONS.items():
        hooks.when_imported(module_name, install)
    return path


def _profile(traces: Path) -> None:
    """``--profile``: a pyinstrument profiler around each trace (see capture/profile.py)."""
    from perfdoctor.capture.profile import Profiling, chain

    profiling = Profiling(traces.parent / "profiles")
    context.state.on_start = chain(context.state.on_start, profiling.started)
    # Stopped before the trace is handed on, so its summary is in the stored attrs.
    finish = context.state.on_finish
    context.state.on_finish = (
        profiling.finished if finish is None else chain(profiling.finished, finish)
    )


def _track_memory(settings: Settings, submit: Callable[[context.ActiveTrace], None]) -> None:
    global _memory_tracker
    from perfdoctor.capture.memory import MemoryTracker

    tracker = _memory_tracker = MemoryTracker(
        settings.memory_sites_min_kb, settings.memory_sample_interval_ms, settings.memory_frames
    )
    tracker.start()

    def finished(trace: context.ActiveTrace) -> None:
        tracker.request_finished(trace)
        submit(trace)

    context.state.on_start = tracker.request_started
    context.state.on_finish = finished


def is_instrumented() -> bool:
    return context.state.enabled


def uninstrument() -> None:
    """Stop recording new traces and write out what is pending."""
    context.finish_process_trace()
    context.state.enabled = False
    context.state.on_finish = None
    context.state.on_drop = None
    context.state.sample_rate = 1.0
    context.state.sample_summary = False
    context.state.on_start = None
    context.state.process_trace_name = None
    if _memory_tracker is not None:
        _memory_tracker.stop()
    if _recorder is not None:
        _recorder.flush()


def flush() -> None:
    if _recorder is not None:
        _recorder.flush()


@contextmanager
def trace(name: str, kind: str = "job") -> Iterator[None]:
    """Capture one unit of work in a script or job::

    with perfdoctor.trace("nightly-report"):
        build_report()
    """
    if not context.state.enabled:
        instrument()
    # Opened from this generator: the anchor is the frame holding the ``with``
    # (callsite.anchor_frame steps past contextmanager's __enter__).
    active, token = context.start(name, kind)
    try:
        yield
    finally:
        context.finish(active, token)


def install_from_env() -> None:
    """Entry point of the ``perfdoctor run`` bootstrap."""
    if os.environ.get(ENV_ENABLED) != "1":
        return
    instrument(
        os.environ.get(store.ENV_PATH) or None,
        capture_params=os.environ.get(ENV_CAPTURE_PARAMS) == "1",
        memory=os.environ.get(ENV_MEMORY) == "1",
        profile=os.environ.get(ENV_PROFILE) == "1",
        process_trace=_process_name(),
    )
    server_timing.from_env()
    _flush_on_sigterm()


def _flush_on_sigterm() -> None:
    """Write pending traces when SIGTERM ends a process that has no handler of its own.

    Python's default action kills the process without running ``atexit``, which
    would drop the last requests' traces of a server stopped by a supervisor (the
    Flask dev server; uvicorn, which re-raises the signal after its graceful
    shutdown).  Servers that handle SIGTERM themselves replace this handler.
    """
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError, AttributeError):  # not the main thread, or no SIGTERM
        pass


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    try:
        context.finish_process_trace()
        if _recorder is not None:
            _recorder.flush(timeout=5.0)
    finally:
        # Then die of the signal as the process would have without us.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


# Programs whose first argument is a command of their own: the trace is named by it.
_COMMANDS = {
    "manage.py": "manage.py",
    "django-admin": "django-admin",
    "django-admin.py": "django-admin",
    "django": "django-admin",  # python -m django
}


def _process_name() -> str:
    orig_argv = getattr(sys, "orig_argv", None)  # Python 3.10+
    argv = [a for a in orig_argv[1:] if a] if orig_argv is not None else list(sys.argv)
    if argv[:1] == ["-m"] and len(argv) > 1:
        name, rest = argv[1], argv[2:]
    else:
        while argv and argv[0].startswith("-"):
            argv = argv[1:]
        if not argv:
            return "python"
        name, rest = os.path.basename(argv[0]), argv[1:]
    program = _COMMANDS.get(name)
    command = next((a for a in rest if not a.startswith("-")), None)
    if program is not None and command is not None:
        # A management command (manage.py send_digest): a job of its own name.
        return f"{program} {command}"
    return name
