"""Which stored trace holds each imported OTLP span, so late spans find their trace.

One row per imported OTLP trace in ``otlp_traces``: for each of its spans, the
ids, kind and times, the perfdoctor trace that holds it and its index among that
trace's spans, packed and compressed (some 23 bytes a span).  Spans of a trace that arrive after it
was written (a file far out of order, one trace split across two files) are
mapped again together with these, and the trace is rewritten whole, as if every
span had come at once.

The table is the importer's own: nothing that reads the store looks at it, and
a store without it (captured only, or imported by an older perfdoctor) gets it
with the first import.
"""

from __future__ import annotations

import json
import sqlite3
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from perfdoctor import store
from perfdoctor.otlp.decode import OtlpSpan
from perfdoctor.otlp.mapping import Placed, StoredSpan, starts_trace

_TABLE = (
    "CREATE TABLE IF NOT EXISTS otlp_traces "
    "(trace_id BLOB PRIMARY KEY, owners TEXT NOT NULL, spans BLOB NOT NULL)"
)
# span id, parent id (zeros: none), kind, start and end (ns), owner (an index
# into the row's owners), seq + 1 (0: not among the owner's spans).
_SPAN = struct.Struct("<8s8sBqqII")
_NO_PARENT = bytes(8)
# Bound parameters per statement: SQLite before 3.32 allows 999.
_CHUNK = 400


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def has_table(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'otlp_traces'"
    ).fetchone()
    return row is not None


def _rows(conn: sqlite3.Connection, columns: str, trace_ids: Iterable[str]) -> list[Any]:
    found: list[Any] = []
    for chunk in _chunks([bytes.fromhex(t) for t in trace_ids]):
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT {columns} FROM otlp_traces WHERE trace_id IN ({marks})"
        found.extend(conn.execute(sql, chunk))
    return found


def imported(conn: sqlite3.Connection, trace_ids: Iterable[str]) -> set[str]:
    """Those of these OTLP trace ids that have spans in the store already."""
    return {bytes(row[0]).hex() for row in _rows(conn, "trace_id", trace_ids)}


def load(conn: sqlite3.Connection, trace_ids: Iterable[str]) -> dict[str, list[StoredSpan]]:
    """The spans imported before for each trace id, with what their traces keep of them.

    A span whose trace is no longer in the store is left out: nothing is known of it."""
    rows = []
    for tid, owners, packed in _rows(conn, "trace_id, owners, spans", trace_ids):
        try:
            names = json.loads(owners)
            if not isinstance(names, list):
                raise ValueError(owners)
            rows.append((bytes(tid).hex(), names, list(_unpack(packed))))
        except (ValueError, TypeError, zlib.error, struct.error):
            continue  # a damaged row: its spans are written anew, as if never imported
    traces = store.traces_by_id(conn, {str(o) for _, owners, _ in rows for o in owners})
    by_trace: dict[str, list[StoredSpan]] = {}
    for trace_id, owners, records in rows:
        spans = by_trace.setdefault(trace_id, [])
        for span_id, parent_id, kind, start_ns, end_ns, owner, seq in records:
            trace = traces.get(str(owners[owner])) if owner < len(owners) else None
            if trace is None:
                continue
            index = seq - 1
            kept = trace.spans[index] if 0 <= index < len(trace.spans) else None
            spans.append(
                StoredSpan(
                    trace_id=trace_id,
                    span_id=span_id.hex(),
                    parent_id=None if parent_id == _NO_PARENT else parent_id.hex(),
                    name="",
                    kind=kind,
                    start_ns=start_ns,
                    end_ns=end_ns,
                    attrs={},
                    scope="",
                    resource={},
                    owner=trace.id,
                    kept=kept,
                    header=trace,
                )
            )
        # Only a span that headed its trace keeps the trace's name and attributes.
        by_id: dict[str, OtlpSpan] = {s.span_id: s for s in spans}
        for span in spans:
            if not starts_trace(span, by_id):
                span.header = None
    return by_trace


@dataclass
class Changes:
    """What one write does besides writing traces: all in the traces' transaction."""

    # Every span of each OTLP trace written (its row is written whole).
    placed: list[Placed] = field(default_factory=list)
    # Stored traces that no longer head anything (a fragment whose root came later).
    dropped: set[str] = field(default_factory=set)

    def apply(self, conn: sqlite3.Connection) -> None:
        conn.execute(_TABLE)
        for chunk in _chunks(sorted(self.dropped)):
            marks = ",".join("?" * len(chunk))
            conn.execute(f"DELETE FROM traces WHERE id IN ({marks})", chunk)
        conn.executemany(
            "INSERT OR REPLACE INTO otlp_traces VALUES (?, ?, ?)", _pack(self.placed)
        )


def _pack(placed: list[Placed]) -> Iterator[tuple[bytes, str, bytes]]:
    by_trace: dict[str, list[Placed]] = {}
    for p in placed:
        by_trace.setdefault(p.span.trace_id, []).append(p)
    for trace_id, spans in by_trace.items():
        owners: dict[str, int] = {}
        records = bytearray()
        for p in spans:
            span = p.span
            records += _SPAN.pack(
                bytes.fromhex(span.span_id),
                bytes.fromhex(span.parent_id) if span.parent_id else _NO_PARENT,
                span.kind,
                span.start_ns,
                span.end_ns,
                owners.setdefault(p.owner, len(owners)),
                0 if p.seq is None else p.seq + 1,
            )
        yield bytes.fromhex(trace_id), json.dumps(list(owners)), zlib.compress(records, 1)


def _unpack(packed: Any) -> Iterator[tuple[Any, ...]]:
    return _SPAN.iter_unpack(zlib.decompress(bytes(packed)))
