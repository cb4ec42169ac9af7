"""Capture overhead: microseconds per operation that perfdoctor adds over the bare library.

Measured for sqlite3, SQLAlchemy Core and the Django ORM (all on an in-memory
SQLite database), for psycopg2 (point lookups on the local PostgreSQL), for
two HTTP clients (requests, keep-alive GETs to a local server in another
process; urllib.request's urlopen, a connection per call through http.client)
and for Redis (redis-py GETs on the local server), each next to
OpenTelemetry's own instrumentation of the same library, in the same run::

    python benchmarks/capture_overhead.py            # full run, a table
    python benchmarks/capture_overhead.py --quick    # a smoke run in seconds
    python benchmarks/capture_overhead.py --json     # machine-readable output

Method
------
Every (library, variant) pair runs in its own subprocess, because both
perfdoctor and OpenTelemetry patch the driver process-wide.  A worker builds a
1000-row table, switches its variant on, runs ``--warmup`` blocks, then times
``--reps`` blocks of ``--queries`` point lookups (``WHERE id = ?``, fetching the
row).  Each block is one trace:

* bare: no instrumentation;
* perfdoctor: ``perfdoctor.instrument(traces=<temp file>)`` and one
  ``with perfdoctor.trace("bench"):`` per block; the background recorder
  converts and writes the traces to the store while later blocks run;
* otel: an SDK ``TracerProvider`` with a ``BatchSpanProcessor`` (or
  ``SimpleSpanProcessor``, ``--otel-processor simple``) exporting to an
  ``InMemorySpanExporter``, and one parent span per block.  sqlite3 is traced by
  ``SQLite3Instrumentor``, SQLAlchemy by ``SQLAlchemyInstrumentor`` (engine
  events); Django by ``DjangoInstrumentor`` (the request span) together with
  ``SQLite3Instrumentor`` (the query spans, through OTel's DB-API integration),
  since the Django instrumentor itself makes no query spans;
* perfdoctor-nowriter: a diagnostic, perfdoctor capturing as usual but with its
  finished traces counted and dropped rather than written: the cost in the
  request thread alone, without the background recorder.

For Django a block is one request through Django's test client to a view that
runs the lookups, so the trace is the one perfdoctor's Django hook and OTel's
Django middleware open, and the call stack under the query is a real request's.

A worker reports, for each timed block, wall-clock µs per query and the CPU µs
per query of the thread running it; and for the run, the CPU time of the whole
process (every thread, so the background writers included, until their queues
are flushed) per timed query.  The parent interleaves workers across
rounds, rotating the order of the variants, so drift on a noisy machine hits
every variant alike.  A variant's figure is the median over
rounds of each worker's median over blocks; overhead is that figure minus
bare's.  Every worker also checks that its variant recorded one span per query.
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = ("sqlite3", "sqlalchemy", "django", "psycopg2", "requests", "urllib", "redis")
VARIANTS = ("bare", "perfdoctor", "otel", "perfdoctor-nowriter", "sentry", "ddtrace")
# The APM agents users would leave on instead, measured on the libraries where they
# trace database queries; ddtrace only where it is installed (the bench-ddtrace extra).
APM_VARIANTS = ("sentry", "ddtrace")
APM_LIBRARIES = ("sqlite3", "sqlalchemy", "django")
# (variant, library) pairs with no integration for the library's queries: the
# variant's cost there is its transaction alone, and it records no query span.
NO_QUERY_SPANS = {("sentry", "sqlite3")}
ROWS = 1000
SQL = "SELECT id, name, value FROM items WHERE id = ?"
# Issue 16's targets, in added wall µs per query: what a team can leave on.
TARGETS_US = {"sqlite3": 1.5, "sqlalchemy": 5.0, "django": 5.0}
REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
WORKER_TIMEOUT = 600.0

Block = Callable[[int, int], None]
BlockContext = Callable[[], AbstractContextManager[Any]]


@dataclass(frozen=True)
class Workload:
    block: Block  # run n lookups from key `start` on
    own_trace: bool  # the block is a request that opens its trace itself (Django)
    otel: str  # how OpenTelemetry instruments this library
    span_kind: str = "db"  # the kind of span each operation records
    # Operations per block are the plan's queries divided by this: an HTTP round
    # trip costs ~100x a point lookup, and a block should last about as long.
    per_block_divisor: int = 1
    close: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class Plan:
    rounds: int
    reps: int
    queries: int
    warmup: int
    otel_processor: str


FULL = Plan(rounds=7, reps=30, queries=1000, warmup=3, otel_processor="batch")
QUICK = Plan(rounds=1, reps=3, queries=200, warmup=1, otel_processor="batch")


def _rows() -> Iterator[tuple[int, str, float]]:
    for i in range(1, ROWS + 1):
        yield i, f"item-{i}", i * 0.5


def _key(i: int) -> int:
    return i % ROWS + 1


# --------------------------------------------------------------------------- variants


class Tracing:
    """What a variant adds around the workload; bare adds nothing."""

    def block(self) -> AbstractContextManager[Any]:
        return nullcontext()

    def request(self) -> AbstractContextManager[Any]:
        """Around a block that is a request (Django): what the server would add."""
        return nullcontext()

    def settle(self) -> None:
        """Write out everything pending (background threads included)."""

    def mark(self) -> None:
        """Start counting recorded query spans from here."""

    def recorded(self, kind: str) -> int:
        """Spans of ``kind`` recorded since :meth:`mark`; -1 for bare."""
        return -1


class PerfdoctorTracing(Tracing):
    def __init__(self, folder: Path) -> None:
        import perfdoctor

        self._perfdoctor = perfdoctor
        self._path = perfdoctor.instrument(traces=folder / "traces.db")

    def block(self) -> AbstractContextManager[Any]:
        return self._perfdoctor.trace("bench")

    def settle(self) -> None:
        self._perfdoctor.flush()

    def recorded(self, kind: str) -> int:
        # Only operations inside a trace are captured, so the store holds exactly
        # the warm-up and timed ones; setup ran outside any trace.
        self._perfdoctor.uninstrument()
        import sqlite3

        conn = sqlite3.connect(str(self._path))
        try:
            row = conn.execute(
                "SELECT count(*) FROM spans WHERE kind = ? AND stack_id IS NOT NULL", (kind,)
            ).fetchone()
        finally:
            conn.close()
        return int(row[0])


class HotPathTracing(PerfdoctorTracing):
    """perfdoctor capturing as usual, but finished traces are counted and dropped.

    A diagnostic: the cost in the request thread alone, without the background
    writer (conversion, normalisation, SQLite insert) competing for the GIL.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        from perfdoctor.capture import context

        self._kept: collections.Counter[str] = collections.Counter()

        def drop(trace: Any) -> None:
            self._kept.update(span[0] for span in trace.spans)

        context.state.on_finish = drop

    def settle(self) -> None:
        pass

    def recorded(self, kind: str) -> int:
        return self._kept[kind]


class OtelTracing(Tracing):
    def __init__(self, processor: str) -> None:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SimpleSpanProcessor,
            SpanExportResult,
        )
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )
        from opentelemetry.trace import SpanKind

        class CountingExporter(InMemorySpanExporter):
            """The SDK's in-memory exporter, bounded, counting the query spans it got."""

            queries = 0

            def export(self, spans: Any) -> SpanExportResult:
                self.queries += sum(
                    1
                    for span in spans
                    if isinstance(span, ReadableSpan)
                    and span.kind is SpanKind.CLIENT
                    and span.name != "connect"
                )
                return super().export(spans)

        self._exporter = CountingExporter(max_spans=10_000)
        self._provider = TracerProvider()
        if processor == "simple":
            self._provider.add_span_processor(SimpleSpanProcessor(self._exporter))
        else:
            self._provider.add_span_processor(BatchSpanProcessor(self._exporter))
        trace.set_tracer_provider(self._provider)
        self._tracer = trace.get_tracer("perfdoctor.benchmark")
        self._base = 0

    def block(self) -> AbstractContextManager[Any]:
        return self._tracer.start_as_current_span("bench")

    def settle(self) -> None:
        self._provider.force_flush()

    def mark(self) -> None:
        self.settle()
        self._base = self._exporter.queries

    def recorded(self, kind: str) -> int:
        self.settle()
        return self._exporter.queries - self._base


# An HTTP endpoint that takes whatever an agent sends (Sentry envelopes, Datadog
# trace payloads) and answers 200, in its own process so that it does not share the
# worker's GIL; like a local relay or agent that keeps up.
_COLLECTOR = r"""
import http.server, sys

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _take(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b'{"rate_by_service": {}}' if "/traces" in self.path else b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_GET = _take

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class Collector:
    """The local stub an agent sends to."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _COLLECTOR], stdout=subprocess.PIPE, text=True
        )
        assert self._process.stdout is not None
        self.port = int(self._process.stdout.readline())

    def close(self) -> None:
        self._process.terminate()
        self._process.wait(10)


class SentryTracing(Tracing):
    """sentry-sdk with tracing on for every transaction, sending to the local stub.

    Its default and auto-enabling integrations (Django's, SQLAlchemy's) make the
    query spans; it has none for the sqlite3 module itself, so plain sqlite3 queries
    get no span.  ``max_spans`` is raised from its default of 1000 per transaction so
    that every query of a block is kept, as for the other variants.
    """

    def __init__(self) -> None:
        import sentry_sdk

        self._collector = Collector()
        self._sdk = sentry_sdk
        self.queries = 0
        self._base = 0

        def count(event: Any, hint: Any) -> Any:
            self.queries += sum(1 for span in event.get("spans", ()) if span.get("op") == "db")
            return event

        sentry_sdk.init(
            dsn=f"http://public@127.0.0.1:{self._collector.port}/1",
            traces_sample_rate=1.0,
            before_send_transaction=count,
            _experiments={"max_spans": 100_000},
        )

    def block(self) -> AbstractContextManager[Any]:
        return self._sdk.start_transaction(name="bench", op="bench")

    def request(self) -> AbstractContextManager[Any]:
        # Its Django integration starts the transaction in its wrapper of Django's
        # WSGIHandler, which the test client does not go through: the same
        # transaction, started here.
        return self._sdk.start_transaction(name="/lookups/", op="http.server")

    def settle(self) -> None:
        self._sdk.flush()

    def mark(self) -> None:
        self.settle()
        self._base = self.queries

    def recorded(self, kind: str) -> int:
        self.settle()
        self._collector.close()
        return self.queries - self._base


class DdtraceTracing(Tracing):
    """ddtrace (Datadog's tracer) with its integration for the library, sending to
    the local stub as its agent; telemetry and remote configuration off."""

    # For Django, ddtrace's own integration makes the request spans and, by default
    # (DD_DJANGO_TRACING_MINIMAL), leaves the query spans to the driver's: sqlite3.
    INTEGRATIONS = {
        "sqlite3": ("sqlite3",),
        "sqlalchemy": ("sqlalchemy",),
        "django": ("django", "sqlite3"),
    }

    def __init__(self, library: str) -> None:
        self._collector = Collector()
        os.environ.update(
            {
                "DD_TRACE_AGENT_URL": f"http://127.0.0.1:{self._collector.port}",
                "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false",
                "DD_REMOTE_CONFIGURATION_ENABLED": "false",
                "DD_TRACE_STARTUP_LOGS": "false",
            }
        )
        from ddtrace import patch
        from ddtrace.trace import TraceFilter, tracer

        patch(**dict.fromkeys(self.INTEGRATIONS[library], True))
        outer = self
        self.queries = 0
        self._base = 0

        class Counting(TraceFilter):  # type: ignore[misc]
            def process_trace(self, trace: Any) -> Any:
                outer.queries += sum(1 for span in trace if span.span_type == "sql")
                return trace

        tracer.configure(trace_processors=[Counting()])
        self._tracer = tracer

    def block(self) -> AbstractContextManager[Any]:
        return self._tracer.trace("bench")  # type: ignore[no-any-return]

    def settle(self) -> None:
        self._tracer.flush()

    def mark(self) -> None:
        self.settle()
        self._base = self.queries

    def recorded(self, kind: str) -> int:
        self.settle()
        self._collector.close()
        return self.queries - self._base


# --------------------------------------------------------------------------- workloads


def sqlite3_workload(variant: str) -> Workload:
    if variant == "otel":
        from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

        SQLite3Instrumentor().instrument()
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value REAL NOT NULL)"
    )
    conn.executemany("INSERT INTO items VALUES (?, ?, ?)", _rows())
    conn.commit()
    # OTel's sqlite3 integration traces cursors, not Connection.execute.
    cursor = conn.cursor()

    def block(n: int, start: int) -> None:
        for i in range(start, start + n):
            cursor.execute(SQL, (_key(i),))
            cursor.fetchone()

    return Workload(block, own_trace=False, otel="SQLite3Instrumentor().instrument()")


def _otel_sqlalchemy(engine: Any) -> str:
    """Trace ``engine`` with OTel's SQLAlchemy instrumentation; returns how.

    The instrumentor declares ``sqlalchemy < 2.1`` (hence ``skip_dep_check``) and
    its ``instrument()`` also wraps ``create_async_engine``, which on SQLAlchemy 2.1
    needs greenlet.  Without greenlet the engine gets the instrumentor's own
    ``EngineTracer`` directly: the object ``instrument(engine=...)`` returns, whose
    event listeners make the query spans.
    """
    import importlib.util

    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    if importlib.util.find_spec("greenlet") is not None:
        SQLAlchemyInstrumentor().instrument(engine=engine, skip_dep_check=True)
        return "SQLAlchemyInstrumentor().instrument(engine=engine, skip_dep_check=True)"
    from opentelemetry import metrics, trace
    from opentelemetry.instrumentation.sqlalchemy import __name__ as module
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__

    usage = metrics.get_meter(module, __version__).create_up_down_counter(
        name="db.client.connections.usage", unit="connections"
    )
    EngineTracer(trace.get_tracer(module, __version__), engine, usage)  # type: ignore[no-untyped-call]
    return "EngineTracer(tracer, engine, ...) (no greenlet for instrument())"


def sqlalchemy_workload(variant: str) -> Workload:
    from sqlalchemy import Column, Float, Integer, MetaData, String, Table, create_engine, select

    engine = create_engine("sqlite://")
    otel = _otel_sqlalchemy(engine) if variant == "otel" else ""
    metadata_ = MetaData()
    items = Table(
        "items",
        metadata_,
        Column("id", Integer, primary_key=True),
        Column("name", String(50), nullable=False),
        Column("value", Float, nullable=False),
    )
    metadata_.create_all(engine)
    with engine.begin() as conn:
        conn.execute(items.insert(), [{"id": i, "name": n, "value": v} for i, n, v in _rows()])

    def block(n: int, start: int) -> None:
        with engine.connect() as conn:
            for i in range(start, start + n):
                conn.execute(select(items).where(items.c.id == _key(i))).one()

    return Workload(block, own_trace=False, otel=otel)


class _DjangoUrls:
    urlpatterns: list[Any] = []


def django_workload(variant: str) -> Workload:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        SECRET_KEY="perfdoctor-benchmark",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        ROOT_URLCONF=_DjangoUrls,
        USE_TZ=True,
        LOGGING_CONFIG=None,
    )
    django.setup()
    if variant == "otel":
        from opentelemetry.instrumentation.django import DjangoInstrumentor
        from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

        DjangoInstrumentor().instrument()
        SQLite3Instrumentor().instrument()

    from django.db import connection, models
    from django.http import HttpRequest, HttpResponse
    from django.test import Client
    from django.urls import path

    class Item(models.Model):  # type: ignore[misc]
        name = models.CharField(max_length=50)
        value = models.FloatField()

        class Meta:
            app_label = "bench"
            db_table = "items"

    with connection.schema_editor() as editor:
        editor.create_model(Item)
    Item.objects.bulk_create([Item(id=i, name=n, value=v) for i, n, v in _rows()])

    def lookups(request: HttpRequest) -> HttpResponse:
        n = int(request.GET["n"])
        start = int(request.GET["start"])
        for i in range(start, start + n):
            Item.objects.get(pk=_key(i))
        return HttpResponse("ok")

    _DjangoUrls.urlpatterns = [path("lookups/", lookups)]
    client = Client()

    def block(n: int, start: int) -> None:
        response = client.get("/lookups/", {"n": n, "start": start})
        if response.status_code != 200:
            raise RuntimeError(f"the benchmark view answered {response.status_code}")

    # The request is the trace: perfdoctor's Django hook and OTel's middleware open it.
    return Workload(
        block,
        own_trace=True,
        otel="DjangoInstrumentor().instrument() + SQLite3Instrumentor().instrument()",
    )


# A keep-alive HTTP/1.1 server answering every request with the same small JSON,
# in its own process so that it does not share the client's GIL.
_UPSTREAM = r"""
import asyncio, sys

BODY = b'{"ok": true}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY
)

async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if not head:
                break
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


def requests_workload(variant: str) -> Workload:
    if variant == "otel":
        from opentelemetry.instrumentation.requests import RequestsInstrumentor

        RequestsInstrumentor().instrument()
    import requests

    upstream = subprocess.Popen(
        [sys.executable, "-c", _UPSTREAM], stdout=subprocess.PIPE, text=True
    )
    assert upstream.stdout is not None
    port = int(upstream.stdout.readline())
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment for 127.0.0.1
    url = f"http://127.0.0.1:{port}/items/"

    def block(n: int, start: int) -> None:
        for i in range(start, start + n):
            session.get(url + str(_key(i)), timeout=5.0).json()

    def close() -> None:
        session.close()
        upstream.terminate()
        upstream.wait(10)

    return Workload(
        block,
        own_trace=False,
        otel="RequestsInstrumentor().instrument()",
        span_kind="http",
        per_block_divisor=5,
        close=close,
    )


def psycopg2_workload(variant: str) -> Workload:
    if variant == "otel":
        from opentelemetry.instrumentation.psycopg2 import Psycopg2Instrumentor

        Psycopg2Instrumentor().instrument()
    import psycopg2

    conn = psycopg2.connect(os.environ.get("PERFDOCTOR_BENCH_POSTGRES", POSTGRES_URL))
    conn.autocommit = True
    cursor = conn.cursor()
    # A temporary table: the connection's own, whoever else uses the server.
    cursor.execute(
        "CREATE TEMP TABLE items (id integer PRIMARY KEY, name text NOT NULL, value real NOT NULL)"
    )
    cursor.executemany("INSERT INTO items VALUES (%s, %s, %s)", list(_rows()))
    sql = SQL.replace("?", "%s")

    def block(n: int, start: int) -> None:
        for i in range(start, start + n):
            cursor.execute(sql, (_key(i),))
            cursor.fetchone()

    return Workload(
        block,
        own_trace=False,
        otel="Psycopg2Instrumentor().instrument()",
        # A loopback round trip to PostgreSQL costs ~20x an in-memory SQLite lookup.
        per_block_divisor=2,
        close=conn.close,
    )


def urllib_workload(variant: str) -> Workload:
    if variant == "otel":
        from opentelemetry.instrumentation.urllib import URLLibInstrumentor

        URLLibInstrumentor().instrument()
    import urllib.request

    upstream = subprocess.Popen(
        [sys.executable, "-c", _UPSTREAM], stdout=subprocess.PIPE, text=True
    )
    assert upstream.stdout is not None
    port = int(upstream.stdout.readline())
    # No proxy from the environment for 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    url = f"http://127.0.0.1:{port}/items/"

    def block(n: int, start: int) -> None:
        for i in range(start, start + n):
            with opener.open(url + str(_key(i)), timeout=5.0) as response:
                json.loads(response.read())

    def close() -> None:
        upstream.terminate()
        upstream.wait(10)

    return Workload(
        block,
        own_trace=False,
        otel="URLLibInstrumentor().instrument()",
        span_kind="http",
        # urllib opens a connection per call: fewer calls than requests' keep-alive.
        per_block_divisor=10,
        close=close,
    )


def redis_workload(variant: str) -> Workload:
    if variant == "otel":
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        RedisInstrumentor().instrument()
    import redis

    client = redis.Redis.from_url(os.environ.get("PERFDOCTOR_BENCH_REDIS", REDIS_URL))
    prefix = f"perfdoctor-bench:{os.getpid()}:"
    client.mset({f"{prefix}{i}": f"value-{i}" for i in range(1, ROWS + 1)})

    def block(n: int, start: int) -> None:
        for i in range(start, start + n):
            client.get(f"{prefix}{_key(i)}")

    def close() -> None:
        client.delete(*(f"{prefix}{i}" for i in range(1, ROWS + 1)))
        client.close()

    return Workload(
        block,
        own_trace=False,
        otel="RedisInstrumentor().instrument()",
        span_kind="cache",
        per_block_divisor=2,
        close=close,
    )


WORKLOADS: dict[str, Callable[[str], Workload]] = {
    "sqlite3": sqlite3_workload,
    "sqlalchemy": sqlalchemy_workload,
    "django": django_workload,
    "psycopg2": psycopg2_workload,
    "requests": requests_workload,
    "urllib": urllib_workload,
    "redis": redis_workload,
}


def run_worker(library: str, variant: str, plan: Plan) -> dict[str, Any]:
    """One (library, variant) measurement, in this process."""
    with tempfile.TemporaryDirectory(prefix="perfdoctor-bench-") as folder:
        tracing: Tracing
        if variant == "perfdoctor":
            tracing = PerfdoctorTracing(Path(folder))
        elif variant == "perfdoctor-nowriter":
            tracing = HotPathTracing(Path(folder))
        elif variant == "otel":
            tracing = OtelTracing(plan.otel_processor)
        elif variant == "sentry":
            tracing = SentryTracing()
        elif variant == "ddtrace":
            tracing = DdtraceTracing(library)
        else:
            tracing = Tracing()
        workload = WORKLOADS[library](variant)
        block = workload.block
        context: BlockContext = tracing.request if workload.own_trace else tracing.block
        n = max(1, plan.queries // workload.per_block_divisor)
        tracing.mark()
        for b in range(plan.warmup):
            with context():
                block(n, b * n)
        tracing.settle()
        gc.collect()

        samples: list[float] = []
        thread_samples: list[float] = []
        clock, thread_clock = time.perf_counter_ns, time.thread_time_ns
        cpu0 = time.process_time()
        all0 = clock()
        for rep in range(plan.reps):
            thread_started = thread_clock()
            started = clock()
            with context():
                block(n, rep * n)
            samples.append((clock() - started) / 1000.0 / n)
            thread_samples.append((thread_clock() - thread_started) / 1000.0 / n)
        tracing.settle()
        all_us = (clock() - all0) / 1000.0 / (plan.reps * n)
        cpu_us = (time.process_time() - cpu0) * 1e6 / (plan.reps * n)
        recorded = tracing.recorded(workload.span_kind)
        workload.close()
    return {
        "library": library,
        "variant": variant,
        "us_per_query": samples,
        "thread_cpu_us_per_query": thread_samples,
        "cpu_us_per_query": cpu_us,
        "all_us_per_query": all_us,
        "queries": (plan.warmup + plan.reps) * n,
        "recorded": recorded,
        "otel_instrumentation": workload.otel if variant == "otel" else None,
    }


# --------------------------------------------------------------------------- driver


def leave_out_requests(state: Any, on: bool = True, summary: bool = False) -> None:
    """Make every request one ``--sample`` leaves out and drops (not drawn, and
    never slow: under valgrind a request takes ~50x its time), or undo it.
    ``state``: ``perfdoctor.capture.context.state``; ``summary``: as under
    ``--sample-tail summary`` (such a request is not captured)."""
    import random

    if hasattr(state, "sample_summary"):  # not in a tree from before the option
        state.sample_summary = on and summary
    state.sample_rate = 0.05 if on else 1.0
    state.sample_draw = (lambda: 1.0) if on else random.random
    state.tail.slow_ms = float("inf")


def worker_env() -> dict[str, str]:
    # Nothing from the caller's shell may switch capture or OTel on in a worker; the
    # benchmark's own settings (PERFDOCTOR_BENCH_*: where Redis and PostgreSQL are) pass.
    return {
        k: v
        for k, v in os.environ.items()
        if k.startswith("PERFDOCTOR_BENCH_") or not k.startswith(("PERFDOCTOR_", "OTEL_"))
    }


# With --before-src: perfdoctor's variants again, run from another copy of the package.
BEFORE_SUFFIX = "-before"


def spawn(
    library: str, variant: str, plan: Plan, before_src: str | None = None
) -> dict[str, Any]:
    env = worker_env()
    if variant.endswith(BEFORE_SUFFIX):
        assert before_src is not None
        env["PYTHONPATH"] = before_src
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        library,
        variant.removesuffix(BEFORE_SUFFIX),
        "--reps",
        str(plan.reps),
        "--queries",
        str(plan.queries),
        "--warmup",
        str(plan.warmup),
        "--otel-processor",
        plan.otel_processor,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=WORKER_TIMEOUT, env=env
    )
    if result.returncode != 0:
        raise RuntimeError(f"worker {library}/{variant} failed:\n{result.stderr}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    data["variant"] = variant
    return data


def _versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in (
        "perfdoctor",
        "SQLAlchemy",
        "Django",
        "opentelemetry-sdk",
        "opentelemetry-instrumentation-sqlite3",
        "opentelemetry-instrumentation-sqlalchemy",
        "opentelemetry-instrumentation-django",
        "opentelemetry-instrumentation-dbapi",
        "requests",
        "redis",
        "opentelemetry-instrumentation-requests",
        "opentelemetry-instrumentation-redis",
        "psycopg2-binary",
        "opentelemetry-instrumentation-psycopg2",
        "opentelemetry-instrumentation-urllib",
        "sentry-sdk",
        "ddtrace",
    ):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def machine() -> dict[str, Any]:
    import sqlite3

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "sqlite": sqlite3.sqlite_version,
        "versions": _versions(),
    }


METRICS = {
    "us_per_query": "wall-clock µs per query in the block",
    "thread_cpu_us_per_query": "CPU µs per query of the thread running the block",
    "cpu_us_per_query": "CPU µs per query of the whole process, writers flushed",
    # A recorder that works in bursts (or leaves its work for the final flush)
    # can miss most blocks and so the median above: this counts all of it.
    "all_us_per_query": "wall-clock µs per query from the first timed block to the "
    "writers flushed after the last",
}


def summarise(runs: dict[tuple[str, str], list[dict[str, Any]]], plan: Plan) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for library in LIBRARIES:
        per_variant: dict[str, dict[str, Any]] = {}
        for variant in VARIANTS + tuple(v + BEFORE_SUFFIX for v in VARIANTS):
            done = runs.get((library, variant), [])
            if not done:
                continue
            figures: dict[str, Any] = {
                "queries": done[0]["queries"],
                "recorded": [r["recorded"] for r in done],
                "otel_instrumentation": done[0].get("otel_instrumentation"),
            }
            for metric in METRICS:
                # Per-block samples are reduced to each run's median first.
                per_run = [
                    statistics.median(r[metric]) if isinstance(r[metric], list) else r[metric]
                    for r in done
                ]
                figures[metric] = statistics.median(per_run)
                figures[f"{metric}_runs"] = per_run
            per_variant[variant] = figures
        bare = per_variant.get("bare")
        for variant, figures in per_variant.items():
            overheads = {
                f"{metric}_overhead": (None if bare is None else figures[metric] - bare[metric])
                for metric in METRICS
            }
            untraced = (variant.removesuffix(BEFORE_SUFFIX), library) in NO_QUERY_SPANS
            expected = 0 if untraced else figures["queries"]
            complete = variant == "bare" or all(
                count == expected for count in figures["recorded"]
            )
            results.append(
                {
                    "library": library,
                    "variant": variant,
                    **figures,
                    **overheads,
                    "complete": complete,
                    "no_query_spans": untraced,
                }
            )
    comparison: list[dict[str, Any]] = []
    for library in LIBRARIES:
        rows = {r["variant"]: r for r in results if r["library"] == library}
        pd, otel = rows.get("perfdoctor"), rows.get("otel")
        if pd is None or otel is None or pd["us_per_query_overhead"] is None:
            continue
        pd_us, otel_us = pd["us_per_query_overhead"], otel["us_per_query_overhead"]
        hot = rows.get("perfdoctor-nowriter")
        apm = {
            f"{name}_overhead_us": rows[name]["us_per_query_overhead"]
            for name in APM_VARIANTS
            if name in rows
        }
        comparison.append(
            {
                "library": library,
                "perfdoctor_overhead_us": pd_us,
                "otel_overhead_us": otel_us,
                "ratio": pd_us / otel_us if otel_us > 0 else None,
                "below_otel": pd_us < otel_us,
                "under_target": (
                    pd_us <= TARGETS_US[library] if library in TARGETS_US else None
                ),
                "perfdoctor_thread_cpu_overhead_us": pd["thread_cpu_us_per_query_overhead"],
                "otel_thread_cpu_overhead_us": otel["thread_cpu_us_per_query_overhead"],
                "perfdoctor_process_cpu_overhead_us": pd["cpu_us_per_query_overhead"],
                "otel_process_cpu_overhead_us": otel["cpu_us_per_query_overhead"],
                "perfdoctor_nowriter_overhead_us": (
                    hot["us_per_query_overhead"] if hot is not None else None
                ),
                **apm,
            }
        )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/capture_overhead.py", *sys.argv[1:]]),
        "plan": asdict(plan),
        "targets_us": TARGETS_US,
        "metrics": METRICS,
        "machine": machine(),
        "results": results,
        "comparison": comparison,
    }


def variants_for(library: str, chosen: tuple[str, ...]) -> tuple[str, ...]:
    """The variants run for ``library``: the APM agents only where they trace its
    queries, ddtrace only where it is installed."""
    import importlib.util

    found = []
    for variant in chosen:
        if variant in APM_VARIANTS and library not in APM_LIBRARIES:
            continue
        if variant == "ddtrace" and importlib.util.find_spec("ddtrace") is None:
            continue
        found.append(variant)
    return tuple(found)


def measure(
    plan: Plan,
    libraries: tuple[str, ...],
    progress: Callable[[str], None],
    chosen: tuple[str, ...] = VARIANTS,
    before_src: str | None = None,
) -> Any:
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for round_ in range(plan.rounds):
        for library in libraries:
            variants = variants_for(library, chosen)
            if before_src is not None:
                ours = ("perfdoctor", "perfdoctor-nowriter")
                variants += tuple(v + BEFORE_SUFFIX for v in ours if v in variants)
            shift = round_ % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                progress(f"round {round_ + 1}/{plan.rounds}: {library} {variant}")
                runs.setdefault((library, variant), []).append(
                    spawn(library, variant, plan, before_src)
                )
    return summarise(runs, plan)


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def render(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    # Piped into a file, the table keeps its columns rather than an 80-column wrap.
    console = Console(width=None if sys.stdout.isatty() else 120)
    plan = summary["plan"]
    info = summary["machine"]
    console.print(
        f"[bold]perfdoctor capture overhead[/bold]  {summary['date']}  "
        f"{info['cpus']} cpus, Python {info['python']}, SQLite {info['sqlite']}"
    )
    console.print(
        f"{plan['rounds']} rounds x {plan['reps']} blocks of {plan['queries']} queries "
        f"(+{plan['warmup']} warm-up) per variant; OTel {plan['otel_processor']} span processor "
        "-> InMemorySpanExporter"
    )
    table = Table(title="µs per query: median over runs of each run's median over blocks")
    for column in ("library", "variant", "wall", "runs min-max", "+wall", "+thread CPU"):
        table.add_column(column, justify="left" if column in ("library", "variant") else "right")
    table.add_column("+process CPU", justify="right")
    table.add_column("+wall, all", justify="right")
    table.add_column("spans", justify="right")
    for row in summary["results"]:
        runs = row["us_per_query_runs"]
        base = row["variant"] == "bare"
        if base:
            recorded = "-"
        elif not row["complete"]:
            recorded = f"MISSING {row['recorded']}"
        else:
            recorded = "none (no integration)" if row["no_query_spans"] else "all"
        table.add_row(
            row["library"],
            row["variant"],
            _fmt(row["us_per_query"]),
            f"{min(runs):.2f}-{max(runs):.2f}",
            "" if base else _fmt(row["us_per_query_overhead"], signed=True),
            "" if base else _fmt(row["thread_cpu_us_per_query_overhead"], signed=True),
            "" if base else _fmt(row["cpu_us_per_query_overhead"], signed=True),
            "" if base else _fmt(row["all_us_per_query_overhead"], signed=True),
            recorded,
        )
    console.print(table)
    console.print(
        "+wall: added wall-clock time; +thread CPU: added CPU of the thread running the "
        "queries; +process CPU: added CPU of all threads, background writers included; "
        "+wall, all: added wall time from the first timed block to the writers flushed "
        "(a median of blocks can miss a writer that works in bursts)."
    )
    verdict = Table(
        title=(
            "perfdoctor vs OpenTelemetry, added wall µs/operation "
            "(targets: " + ", ".join(f"{k} <= {v:g}" for k, v in TARGETS_US.items()) + ")"
        )
    )
    for column in ("library", "perfdoctor", "OTel", "pd/OTel", "< target", "< OTel"):
        verdict.add_column(column, justify="right" if column in ("perfdoctor", "OTel") else "left")
    verdict.add_column("pd no writer", justify="right")
    for name in APM_VARIANTS:
        verdict.add_column(name, justify="right")
    for row in summary["comparison"]:
        ratio = row["ratio"]
        verdict.add_row(
            row["library"],
            _fmt(row["perfdoctor_overhead_us"], signed=True),
            _fmt(row["otel_overhead_us"], signed=True),
            "-" if ratio is None else f"{ratio:.2f}",
            {True: "yes", False: "NO", None: "-"}[row["under_target"]],
            "yes" if row["below_otel"] else "NO",
            _fmt(row["perfdoctor_nowriter_overhead_us"], signed=True),
            *(_fmt(row.get(f"{name}_overhead_us"), signed=True) for name in APM_VARIANTS),
        )
    console.print(verdict)
    for row in summary["results"]:
        if row["variant"] == "otel" and row.get("otel_instrumentation"):
            console.print(f"OTel on {row['library']}: {row['otel_instrumentation']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds' smoke run")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--save", type=Path, metavar="FILE", help="also write the JSON to FILE")
    parser.add_argument("--rounds", type=int, help="worker runs per variant (interleaved)")
    parser.add_argument("--reps", type=int, help="timed blocks per worker")
    parser.add_argument("--queries", type=int, help="queries per block (one trace)")
    parser.add_argument("--warmup", type=int, help="untimed blocks per worker")
    parser.add_argument("--otel-processor", choices=("batch", "simple"), help="OTel processor")
    parser.add_argument(
        "--library", action="append", choices=LIBRARIES, help="only this library (repeatable)"
    )
    parser.add_argument(
        "--variant", action="append", choices=VARIANTS, help="only this variant (repeatable)"
    )
    parser.add_argument(
        "--before-src",
        metavar="PATH",
        help="also run perfdoctor's variants from the package at PATH (a checkout's src)",
    )
    parser.add_argument("--worker", nargs=2, metavar=("LIBRARY", "VARIANT"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    base = QUICK if args.quick else FULL
    plan = Plan(
        rounds=args.rounds or base.rounds,
        reps=args.reps or base.reps,
        queries=args.queries or base.queries,
        warmup=base.warmup if args.warmup is None else args.warmup,
        otel_processor=args.otel_processor or base.otel_processor,
    )
    if min(plan.rounds, plan.reps, plan.queries) < 1 or plan.warmup < 0:
        raise SystemExit("--rounds, --reps and --queries must be positive, --warmup >= 0")
    return plan


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    if args.worker:
        library, variant = args.worker
        if library not in LIBRARIES or variant not in VARIANTS:
            raise SystemExit(f"unknown worker {library}/{variant}")
        print(json.dumps(run_worker(library, variant, plan)))
        return 0
    libraries = tuple(args.library) if args.library else LIBRARIES

    def progress(message: str) -> None:
        sys.stderr.write(f"\r\033[K{message}" if sys.stderr.isatty() else f"{message}\n")
        sys.stderr.flush()

    chosen = tuple(v for v in VARIANTS if v in args.variant) if args.variant else VARIANTS
    summary = measure(plan, libraries, progress, chosen, args.before_src)
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    if args.save is not None:
        args.save.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        render(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
