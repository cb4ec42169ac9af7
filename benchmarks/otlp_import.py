"""How fast is ``perfdoctor import otlp``? Against reading the same file with
OpenTelemetry's own JSON classes, and against ``json.loads`` alone.

    python benchmarks/otlp_import.py [--requests 2000] [--queries 40] [--runs 5]

The file: OTLP JSON lines as an app instrumented with OpenTelemetry writes them
(a SERVER span per request, its queries with ``db.system``/``db.statement`` and
literals in them, a few outbound calls, old semantic-convention names, 512 spans
a line as the SDK's batch processor sends them). Each figure is the median of
``--runs`` runs in this process, the file in the page cache:

* floor: read the file and ``json.loads`` every line, nothing else;
* OpenTelemetry's classes: ``ExportTraceServiceRequest.from_json`` on every line
  (``opentelemetry-proto-json``), what a Python tool reading OTLP JSON uses: it
  only decodes, and maps nothing onto any model;
* perfdoctor import: the whole command into a fresh store (decode, map the
  semantic conventions, normalise and fingerprint every statement, template
  every URL, write the store).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from perfdoctor.otlp.command import run_import
from perfdoctor.settings import Settings

SPANS_PER_LINE = 512


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _span(
    trace: str,
    span: str,
    parent: str,
    name: str,
    kind: int,
    start: int,
    ms: float,
    attrs: dict[str, Any],
) -> dict[str, Any]:
    return {
        "traceId": trace,
        "spanId": span,
        "parentSpanId": parent,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + int(ms * 1e6)),
        "attributes": [_attr(k, v) for k, v in attrs.items()],
        "status": {},
    }


def spans(requests: int, queries: int) -> Iterator[dict[str, Any]]:
    start = 1_700_000_000_000_000_000
    for r in range(requests):
        # Spread as real ids are (random 128 bits): a trace-id draw must see them so.
        trace = hashlib.blake2b(r.to_bytes(8, "little"), digest_size=16).hexdigest()
        root = f"{(r + 1) << 20:016x}"
        t0 = start + r * 100_000_000
        yield _span(
            trace,
            root,
            "",
            "GET /articles/<int:article_id>",
            2,
            t0,
            50.0,
            {
                "http.method": "GET",
                "http.route": "/articles/<int:article_id>",
                "http.target": f"/articles/{r}?page=2",
                "http.status_code": 200,
                "net.host.name": "127.0.0.1",
            },
        )
        for q in range(queries):
            yield _span(
                trace,
                f"{((r + 1) << 20) + q + 1:016x}",
                root,
                "SELECT",
                3,
                t0 + (q + 1) * 1_000_000,
                0.4,
                {
                    "db.system": "postgresql",
                    "db.name": "shop",
                    "db.statement": f"SELECT id, name, email FROM authors WHERE id = {r * 7 + q}",
                    "code.filepath": "/srv/app/views.py",
                    "code.lineno": 42,
                    "code.function": "article_list",
                },
            )
        for h in range(3):
            yield _span(
                trace,
                f"{((r + 1) << 20) + queries + h + 1:016x}",
                root,
                "GET",
                3,
                t0 + (queries + h + 1) * 1_000_000,
                2.0,
                {
                    "http.method": "GET",
                    "http.url": f"http://127.0.0.1:8001/stock/{r}?sku={h}",
                    "http.status_code": 200,
                },
            )


def write_file(path: Path, requests: int, queries: int) -> int:
    count = 0
    batch: list[dict[str, Any]] = []

    def flush(out: io.TextIOBase) -> None:
        out.write(
            json.dumps(
                {
                    "resourceSpans": [
                        {
                            "resource": {"attributes": [_attr("service.name", "shop")]},
                            "scopeSpans": [{"scope": {"name": "bench"}, "spans": batch}],
                        }
                    ]
                }
            )
            + "\n"
        )
        batch.clear()

    with path.open("w", encoding="utf-8") as out:
        for span in spans(requests, queries):
            batch.append(span)
            count += 1
            if len(batch) == SPANS_PER_LINE:
                flush(out)
        if batch:
            flush(out)
    return count


def floor(path: Path) -> None:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            json.loads(line)


def opentelemetry_classes(path: Path) -> None:
    from opentelemetry.proto_json.collector.trace.v1.trace_service import (
        ExportTraceServiceRequest,
    )

    with path.open(encoding="utf-8") as lines:
        for line in lines:
            ExportTraceServiceRequest.from_json(line)


def perfdoctor_import(path: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = io.StringIO()
        run_import([str(path)], Path(folder) / "traces.db", Settings(), out)
    # A run that skipped records would be timing something else.
    if "skipped" in out.getvalue() or not out.getvalue().startswith("imported "):
        raise SystemExit(f"the import did not take the whole file: {out.getvalue()}")


def significant(seconds: float) -> float:
    # Four significant figures, not three decimals: a small quick run on a fast
    # machine takes under half a millisecond, which three decimals call zero.
    return float(f"{seconds:.4g}")


def median_seconds(work: Callable[[Path], None], path: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work(path)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=40, help="queries per request")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spans.jsonl"
        count = write_file(path, args.requests, args.queries)
        results = {
            name: median_seconds(work, path, args.runs)
            for name, work in (
                ("floor: json.loads", floor),
                ("OpenTelemetry classes: from_json", opentelemetry_classes),
                ("perfdoctor import otlp", perfdoctor_import),
            )
        }
        size_mb = path.stat().st_size / 1e6
    base = results["floor: json.loads"]
    otel = results["OpenTelemetry classes: from_json"]
    print(
        json.dumps(
            {
                "spans": count,
                "requests": args.requests,
                "file_mb": round(size_mb, 1),
                "runs": args.runs,
                "results": [
                    {
                        "name": name,
                        "median_s": significant(s),
                        "spans_per_s": round(count / s),
                        "x_floor": round(s / base, 2),
                        "x_opentelemetry": round(s / otel, 2),
                    }
                    for name, s in results.items()
                ],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
