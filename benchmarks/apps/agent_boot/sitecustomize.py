"""Starts the tracing agent ``BENCH_AGENT`` names in every process of a served app,
as a team would leave it on, for ``benchmarks/app_overhead.py --agent``.

Put on ``PYTHONPATH`` so that it runs before the app is imported (the agents
patch Django, FastAPI and SQLAlchemy at import).  Every agent traces every
request (sample rate 1) and sends to ``BENCH_SINK``, a local server that
answers 200 and keeps nothing:

* ``otel``: the OpenTelemetry SDK, a ``BatchSpanProcessor`` and the OTLP/HTTP
  exporter; Django's and SQLite's instrumentations, or FastAPI's and SQLAlchemy's;
* ``sentry``: sentry-sdk with ``traces_sample_rate=1.0`` (its Django, FastAPI and
  SQLAlchemy integrations switch themselves on);
* ``ddtrace``: Datadog's ``ddtrace.auto`` (its integrations patch on import).
"""

from __future__ import annotations

import os

_AGENT = os.environ.get("BENCH_AGENT")
_SINK = os.environ.get("BENCH_SINK", "http://127.0.0.1:9")
_APP = os.environ.get("BENCH_APP")


def _otel() -> None:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(f"{_SINK}/v1/traces")))
    trace.set_tracer_provider(provider)
    if _APP == "django":
        import django
        from opentelemetry.instrumentation.django import DjangoInstrumentor
        from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

        SQLite3Instrumentor().instrument()
        # Django's instrumentation adds its middleware to the settings, which the
        # app configures in code: it is switched on once they are, at setup.
        setup = django.setup

        def instrumented_setup(*args: object, **kwargs: object) -> None:
            DjangoInstrumentor().instrument()
            setup(*args, **kwargs)  # type: ignore[arg-type]

        django.setup = instrumented_setup
    else:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        FastAPIInstrumentor().instrument()
        # Its declared range stops before SQLAlchemy 2.1, where it otherwise
        # instruments nothing, silently.
        SQLAlchemyInstrumentor().instrument(skip_dep_check=True)


def _sentry() -> None:
    import sentry_sdk

    host = _SINK.split("://", 1)[1]
    sentry_sdk.init(dsn=f"http://key@{host}/1", traces_sample_rate=1.0)


def _ddtrace() -> None:
    os.environ.setdefault("DD_TRACE_AGENT_URL", _SINK)
    import ddtrace.auto  # noqa: F401  (patches on import)


if _AGENT == "otel":
    _otel()
elif _AGENT == "sentry":
    _sentry()
elif _AGENT == "ddtrace":
    _ddtrace()
