"""``perfdoctor import otlp`` and ``perfdoctor export otlp``."""

from __future__ import annotations

import functools
import sqlite3
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from perfdoctor import store
from perfdoctor.errors import BadInputs, StoreError, UsageError
from perfdoctor.gc_paused import gc_paused
from perfdoctor.model import Trace
from perfdoctor.otlp import decode, encode, index
from perfdoctor.otlp.decode import OtlpSpan, Skips
from perfdoctor.otlp.mapping import StoredSpan, all_traces, map_trace
from perfdoctor.outfile import written
from perfdoctor.progress import SILENT, Advance, Feedback
from perfdoctor.settings import Settings

# Spans of traces still open are held until their file ends; past this many,
# traces whose root span has arrived are written early, so a 500 MB file does
# not sit in memory whole (a span of such a trace that comes later is merged
# into it: see perfdoctor.otlp.index).
PENDING_SPANS = 200_000
# OTLP traces per store transaction.
WRITE_BATCH = 500


@dataclass
class Summary:
    # Ids of the traces this import wrote, and of those the store held before it:
    # sent again (replaced) or given spans that came later (merged).
    written: set[str] = field(default_factory=set)
    before: set[str] = field(default_factory=set)
    merged: set[str] = field(default_factory=set)
    spans: int = 0
    other: int = 0
    over_limit: int = 0
    layered: int = 0
    skipped: dict[str, Skips] = field(default_factory=dict)
    # One line per file of which nothing could be imported.
    unusable: list[str] = field(default_factory=list)


class StoreTarget:
    """The store, opened at the first write: an import of nothing leaves it untouched."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._indexed = False

    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self._conn = store.open_for_writing(self.path)
            except (OSError, sqlite3.Error) as exc:
                raise StoreError(f"cannot write the trace store {self.path}: {_why(exc)}") from exc
            self._indexed = index.has_table(self._conn)
        return self._conn

    def imported(self, trace_ids: list[str]) -> set[str]:
        conn = self.conn()
        if not self._indexed:
            return set()
        return index.imported(conn, trace_ids)

    def write(self, traces: list[Trace], changes: index.Changes) -> None:
        store.write_traces(self.conn(), traces, changes.apply)
        self._indexed = True

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def run_import(
    paths: Sequence[str],
    store_path: Path,
    settings: Settings,
    out: TextIO,
    feedback: Feedback = SILENT,
) -> None:
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
    target = StoreTarget(store_path)
    sizes = [path.stat().st_size for path in files]
    try:
        with gc_paused(), feedback.counting("Importing", sum(sizes), "bytes") as advance:
            for number, path in enumerate(files):
                before = sum(sizes[:number])
                read = functools.partial(_moved, advance, before) if feedback.live else None
                _import_file(path, target, settings, summary, read)
                advance.to(before + sizes[number])
    except sqlite3.Error as exc:
        # Each batch is one transaction: what was written before stays whole.
        raise StoreError(
            f"writing to {store_path} failed after {len(summary.written)} traces: {_why(exc)}"
        ) from exc
    finally:
        target.close()
    if len(summary.unusable) < len(files):
        _print(summary, files, store_path, out)
    if summary.unusable:
        raise BadInputs(summary.unusable)


def _moved(advance: Advance, before: int, at: int) -> None:
    advance.to(before + at)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def _import_file(
    path: Path,
    target: StoreTarget,
    settings: Settings,
    summary: Summary,
    read: Callable[[int], None] | None = None,
) -> None:
    skips = Skips()
    pending: dict[str, list[OtlpSpan]] = {}
    held = 0
    found = 0
    rooted: set[str] = set()
    for line, value in decode.records(path, settings.otlp_max_line_bytes, skips, read):
        if not decode.is_trace_request(value):
            skips.add("valid JSON but not an OTLP trace request", line)
            continue
        for span in decode.spans(value, line, skips):
            found += 1
            pending.setdefault(span.trace_id, []).append(span)
            held += 1
            if span.parent_id is None:
                rooted.add(span.trace_id)
        if held >= PENDING_SPANS and rooted:
            ready = [pending.pop(t) for t in rooted]
            held -= sum(len(spans) for spans in ready)
            rooted = set()
            write_groups(target, ready, settings, summary)
    if found == 0:
        why = skips.describe() or "no spans in it"
        summary.unusable.append(f"{path}: nothing could be imported ({why})")
        return
    write_groups(target, list(pending.values()), settings, summary)
    if skips.counts:
        summary.skipped[str(path)] = skips


def write_groups(
    target: StoreTarget,
    groups: list[list[OtlpSpan]],
    settings: Settings,
    summary: Summary,
    samples: Mapping[str, dict[str, Any]] | None = None,
) -> None:
    """``samples``: per OTLP trace id, the ``sample`` attributes of a trace a tail
    rule kept (``perfdoctor collect --sample``), given to the trace it makes."""
    for start in range(0, len(groups), WRITE_BATCH):
        batch = groups[start : start + WRITE_BATCH]
        late = target.imported([g[0].trace_id for g in batch])
        fresh = [g for g in batch if g[0].trace_id not in late]
        if fresh:
            _write_fresh(target, fresh, settings, summary, samples)
        if late:
            late_groups = [g for g in batch if g[0].trace_id in late]
            _merge(target, late_groups, settings, summary, samples)


def _mark(traces: list[Trace], samples: Mapping[str, dict[str, Any]] | None) -> None:
    if samples:
        for trace in traces:
            sample = samples.get(trace.id)
            if sample is not None:
                trace.attrs["sample"] = sample


def _write_fresh(
    target: StoreTarget,
    groups: list[list[OtlpSpan]],
    settings: Settings,
    summary: Summary,
    samples: Mapping[str, dict[str, Any]] | None,
) -> None:
    mapped = all_traces(groups, settings.max_spans_per_trace, settings.stack_depth)
    _mark(mapped.traces, samples)
    summary.other += mapped.other
    summary.over_limit += mapped.over_limit
    summary.layered += mapped.layered
    ids = {t.id for t in mapped.traces}
    summary.before |= _already_stored(target.conn(), ids) - summary.written
    target.write(mapped.traces, index.Changes(placed=mapped.placed))
    summary.written |= ids
    summary.spans += sum(len(t.spans) for t in mapped.traces)


def _merge(
    target: StoreTarget,
    groups: list[list[OtlpSpan]],
    settings: Settings,
    summary: Summary,
    samples: Mapping[str, dict[str, Any]] | None,
) -> None:
    """Spans of traces written before: each trace mapped again whole and rewritten."""
    before = index.load(target.conn(), [g[0].trace_id for g in groups])
    traces: list[Trace] = []
    changes = index.Changes()
    for spans in groups:
        trace_id = spans[0].trace_id
        stored = before.get(trace_id, [])
        arrived = {s.span_id for s in spans}
        # A span sent again (the same file imported twice) replaces its stored self.
        kept: list[OtlpSpan] = [s for s in stored if s.span_id not in arrived]
        mapped = map_trace(kept + spans, settings.max_spans_per_trace, settings.stack_depth)
        summary.other += mapped.other
        summary.over_limit += mapped.over_limit
        summary.layered += mapped.layered
        old = {s.owner for s in stored}
        new = {t.id for t in mapped.traces}
        if old - summary.written:  # part of it was in the store before this import
            sent_again = arrived <= {s.span_id for s in stored}
            (summary.before if sent_again else summary.merged).update(new)
        summary.written = (summary.written - old) | new
        summary.spans += sum(
            1 for p in mapped.placed if p.seq is not None and not isinstance(p.span, StoredSpan)
        )
        traces.extend(mapped.traces)
        changes.placed.extend(mapped.placed)
        changes.dropped |= old - new
    _mark(traces, samples)
    target.write(traces, changes)


def _already_stored(conn: sqlite3.Connection, ids: set[str]) -> set[str]:
    """Those of these trace ids the store holds already (they are replaced, not added)."""
    wanted = sorted(ids)
    found: set[str] = set()
    for start in range(0, len(wanted), WRITE_BATCH):
        chunk = wanted[start : start + WRITE_BATCH]
        marks = ",".join("?" * len(chunk))
        found.update(
            row[0] for row in conn.execute(f"SELECT id FROM traces WHERE id IN ({marks})", chunk)
        )
    return found


def _print(summary: Summary, files: list[Path], store_path: Path, out: TextIO) -> None:
    noun = "file" if len(files) == 1 else "files"
    out.write(
        f"imported {len(summary.written)} traces ({summary.spans} spans) from {len(files)} "
        f"{noun} into {store_path}\n"
    )
    replaced = len(summary.before - summary.merged)
    if replaced:
        out.write(
            f"  {replaced} of them were already in the store (same trace id): "
            "replaced, not duplicated\n"
        )
    if summary.merged:
        out.write(
            f"  {len(summary.merged)} of them were in the store already and got spans that "
            "came later (a trace split across files): merged into them\n"
        )
    if summary.other:
        out.write(
            f"  {summary.other} spans that are not a query, an HTTP call or a cache "
            "operation were left out\n"
        )
    if summary.over_limit:
        out.write(f"  {summary.over_limit} spans over max_spans_per_trace were left out\n")
    if summary.layered:
        out.write(
            f"  {summary.layered} queries were sent twice, by the ORM's instrumentation and "
            "the driver's: counted once\n"
        )
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
