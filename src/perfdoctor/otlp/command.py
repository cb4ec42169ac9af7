"""``perfdoctor import otlp`` and ``perfdoctor export otlp``."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from perfdoctor import store
from perfdoctor.errors import StoreError, UsageError
from perfdoctor.model import Trace
from perfdoctor.otlp import decode, encode
from perfdoctor.otlp.decode import OtlpSpan, Skips
from perfdoctor.otlp.mapping import all_traces
from perfdoctor.outfile import written
from perfdoctor.settings import Settings

# Spans of traces still open are held until their file ends; past this many,
# traces whose root span has arrived are written early, so a 500 MB file does
# not sit in memory whole (a span of a trace already written is then skipped).
PENDING_SPANS = 200_000
# Traces per store transaction.
WRITE_BATCH = 500


@dataclass
class Summary:
    traces: int = 0
    spans: int = 0
    replaced: int = 0
    other: int = 0
    over_limit: int = 0
    skipped: dict[str, Skips] = field(default_factory=dict)


def run_import(paths: Sequence[str], store_path: Path, settings: Settings, out: TextIO) -> None:
    files = [Path(p) for p in paths]
    for path in files:
        if not path.exists():
            raise UsageError(f"{path}: no such file")
        if not path.is_file():
            raise UsageError(f"{path} is not a file")
    # Every file is looked at before the store is opened: one that is not OTLP
    # at all stops the import with the store untouched.
    for path in files:
        decode.sniff(path, settings.otlp_max_line_bytes)
    summary = Summary()
    try:
        conn = store.open_for_writing(store_path)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot write the trace store {store_path}: {_why(exc)}") from exc
    try:
        for path in files:
            _import_file(path, conn, settings, summary)
    except sqlite3.Error as exc:
        # Each batch is one transaction: what was written before stays whole.
        raise StoreError(
            f"writing to {store_path} failed after {summary.traces} traces: {_why(exc)}"
        ) from exc
    finally:
        conn.close()
    _print(summary, files, store_path, out)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def _import_file(
    path: Path, conn: sqlite3.Connection, settings: Settings, summary: Summary
) -> None:
    skips = Skips()
    pending: dict[str, list[OtlpSpan]] = {}
    held = 0
    rooted: set[str] = set()
    written: set[str] = set()
    requests = 0
    for line, value in decode.records(path, settings.otlp_max_line_bytes, skips):
        if not decode.is_trace_request(value):
            skips.add("valid JSON but not an OTLP trace request", line)
            continue
        requests += 1
        for span in decode.spans(value, line, skips):
            if span.trace_id in written:
                skips.add("span of a trace already written (file far out of order)", line)
                continue
            pending.setdefault(span.trace_id, []).append(span)
            held += 1
            if span.parent_id is None:
                rooted.add(span.trace_id)
        if held >= PENDING_SPANS and rooted:
            ready = [pending.pop(t) for t in rooted]
            held -= sum(len(spans) for spans in ready)
            written |= rooted
            rooted = set()
            _write(conn, ready, settings, summary)
    _write(conn, list(pending.values()), settings, summary)
    if skips.counts:
        summary.skipped[str(path)] = skips
    if requests == 0:
        raise UsageError(f"{path}: no OTLP trace data could be read ({skips.describe()})")


def _write(
    conn: sqlite3.Connection, groups: list[list[OtlpSpan]], settings: Settings, summary: Summary
) -> None:
    mapped = all_traces(groups, settings.max_spans_per_trace, settings.stack_depth)
    summary.other += mapped.other
    summary.over_limit += mapped.over_limit
    for start in range(0, len(mapped.traces), WRITE_BATCH):
        batch = mapped.traces[start : start + WRITE_BATCH]
        summary.replaced += _already_stored(conn, batch)
        store.write_traces(conn, batch)
        summary.traces += len(batch)
        summary.spans += sum(len(t.spans) for t in batch)


def _already_stored(conn: sqlite3.Connection, traces: list[Trace]) -> int:
    """How many of these trace ids the store holds already (they are replaced, not added)."""
    ids = [t.id for t in traces]
    marks = ",".join("?" * len(ids))
    row = conn.execute(f"SELECT count(*) FROM traces WHERE id IN ({marks})", ids).fetchone()
    return int(row[0])


def _print(summary: Summary, files: list[Path], store_path: Path, out: TextIO) -> None:
    noun = "file" if len(files) == 1 else "files"
    out.write(
        f"imported {summary.traces} traces ({summary.spans} spans) from {len(files)} {noun} "
        f"into {store_path}\n"
    )
    if summary.replaced:
        out.write(
            f"  {summary.replaced} of them were already in the store (same trace id): "
            "replaced, not duplicated\n"
        )
    if summary.other:
        out.write(
            f"  {summary.other} spans that are not a query, an HTTP call or a cache "
            "operation were left out\n"
        )
    if summary.over_limit:
        out.write(f"  {summary.over_limit} spans over max_spans_per_trace were left out\n")
    for name, skips in summary.skipped.items():
        out.write(f"  skipped in {name}: {skips.describe()}\n")


def run_export(store_path: Path, output: str | None, out: TextIO) -> int:
    """Write the store as OTLP JSON lines to ``output`` (``.gz``: gzipped) or ``out``."""
    traces = store.load_traces(store_path, warn=sys.stderr)
    if output is None:
        for text in encode.lines(traces):
            out.write(text)
        return len(traces)
    with written(output, gzip_by_suffix=True) as file:
        for text in encode.lines(traces):
            file.write(text.encode("utf-8"))
    return len(traces)
