"""What the driver capture tests check on every driver: the trace, the line, the connection."""

from __future__ import annotations

from pathlib import Path

from perfdoctor.model import Span, Trace
from tests.inprocess import load


def only(traces: Path) -> Trace:
    """The trace named ``t`` (what each test captures under perfdoctor.trace("t"))."""
    [trace] = [t for t in load(traces) if t.name == "t"]
    return trace


def marked_line(source: Path, marker: str) -> int:
    lines = [n for n, text in enumerate(source.read_text().splitlines(), 1) if text.endswith(marker)]
    assert len(lines) == 1, marker
    return lines[0]


def located_at(span: Span, source: Path, marker: str) -> None:
    """The span's call site is the line of ``source`` that ends with ``# at: marker``."""
    assert span.location is not None
    assert Path(span.location.path).resolve() == source, span.location
    assert span.location.line == marked_line(source, f"# at: {marker}"), (marker, span.location)


def one_connection(trace: Trace, system: str) -> Span:
    """The trace's one ``db.connect`` span; every query names its connection."""
    [connect] = [s for s in trace.spans if s.kind == "db.connect"]
    assert connect.system == system
    assert connect.connection_id is not None
    assert {s.connection_id for s in trace.db_spans()} == {connect.connection_id}
    return connect
