"""A batch job traced by OpenTelemetry alone: redis commands under one INTERNAL root span.

``python otel_redis_job.py OUT.jsonl REDIS_URL PREFIX``: writes three keys
under PREFIX (two with no expiry, one with ``ex=``), deletes them, and
flushes the official OTLP JSON file exporter on exit.
"""

from __future__ import annotations

import sys

import redis
from opentelemetry import trace
from opentelemetry.exporter.otlp.json.file import FileSpanExporter
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def main() -> None:
    out, url, prefix = sys.argv[1:4]
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(FileSpanExporter(out)))
    trace.set_tracer_provider(provider)
    RedisInstrumentor().instrument()
    client = redis.Redis.from_url(url)
    with trace.get_tracer("jobs").start_as_current_span("warm-cache"):
        for user in (1, 2):
            client.set(f"{prefix}profile:{user}", "cached profile")  # no expiry
        client.set(f"{prefix}menu", "cached menu", ex=60)
        client.get(f"{prefix}menu")
    client.delete(f"{prefix}profile:1", f"{prefix}profile:2", f"{prefix}menu")
    assert not [name for name in sys.modules if name.startswith("perfdoctor")]
    provider.shutdown()


if __name__ == "__main__":
    main()
