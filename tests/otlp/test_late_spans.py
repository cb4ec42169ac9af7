"""Spans of a trace that arrive after the trace was written are merged into it: a file
far out of order, or one trace split across two files imported one after the other."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from perfdoctor import store
from perfdoctor.analysis.analyze import analyze
from perfdoctor.cli import main
from perfdoctor.model import Finding, Trace
from perfdoctor.otlp import command
from perfdoctor.settings import Settings
from tests.conftest import run_perfdoctor
from tests.otlp.otlp_lines import line, n_plus_one, span

TRACE = "a1" * 16
OTHERS = [f"{i:032x}" for i in range(1, 4)]


def import_otlp(traces: Path, *files: Path) -> str:
    result = CliRunner().invoke(main, ["import", "otlp", *map(str, files), "--traces", str(traces)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout


def n_plus_ones(traces: Path) -> list[Finding]:
    analysis = analyze(store.load_traces(traces), Settings())
    return [f for f in analysis.findings if f.id == "n-plus-one-query"]


def shape(traces: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Each stored trace's name and spans, as a user's report sees them."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for trace in store.iter_traces(traces):
        out[trace.id] = [(trace.name, trace.status, round(trace.duration_ms, 3))] + [
            (s.kind, round(s.start_ms, 3), s.statement) for s in trace.spans
        ]
    return out


def split(spans: list[dict[str, Any]], first: int) -> tuple[str, str]:
    return line(spans[:first]), line(spans[first:])


def test_a_child_far_after_its_trace_is_merged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spans = n_plus_one(TRACE)
    others = "".join(line(n_plus_one(t)) for t in OTHERS)
    # The last query of TRACE comes after three other traces: by then TRACE was
    # written (more than PENDING_SPANS spans held, and its root had arrived).
    late = tmp_path / "late.jsonl"
    late.write_text(line(spans[:-1]) + others + line(spans[-1:]))
    in_order = tmp_path / "in-order.jsonl"
    in_order.write_text(line(spans) + others)
    monkeypatch.setattr(command, "PENDING_SPANS", 10)
    out = io.StringIO()
    command.run_import([str(late)], tmp_path / "late.db", Settings(), out)
    command.run_import([str(in_order)], tmp_path / "in-order.db", Settings(), io.StringIO())
    assert out.getvalue() == f"imported 4 traces (28 spans) from 1 file into {tmp_path / 'late.db'}\n"
    merged = shape(tmp_path / "late.db")
    assert len(merged[TRACE]) == 1 + 7
    assert merged == shape(tmp_path / "in-order.db")


@pytest.mark.parametrize("order", ["root-first", "root-last"])
def test_a_trace_split_across_two_files_imported_one_after_the_other(
    tmp_path: Path, order: str
) -> None:
    spans = n_plus_one(TRACE)  # the root, a list query, then 6 queries one row at a time
    head, tail = split(spans, 4)  # the root and 3 queries | the other 4
    first, second = tmp_path / "part-1.jsonl", tmp_path / "part-2.jsonl"
    first.write_text(head if order == "root-first" else tail)
    second.write_text(tail if order == "root-first" else head)
    whole = tmp_path / "whole.jsonl"
    whole.write_text(line(spans))
    import_otlp(tmp_path / "whole.db", whole)

    traces = tmp_path / "t.db"
    import_otlp(traces, first)
    # Neither half alone holds the N+1 (3 and 4 repeats, under the 5 it takes).
    assert n_plus_ones(traces) == []
    out = import_otlp(traces, second)
    assert out.startswith("imported 1 traces (")
    assert "1 of them were in the store already and got spans that came later" in out
    assert shape(traces) == shape(tmp_path / "whole.db")
    [n_plus_one_query] = n_plus_ones(traces)
    assert n_plus_one_query.evidence["count"] == 6

    # Importing a part again changes nothing: its spans replace themselves.
    again = import_otlp(traces, second)
    assert "1 of them were already in the store (same trace id): replaced" in again
    assert shape(traces) == shape(tmp_path / "whole.db")


def test_both_files_in_one_command(tmp_path: Path) -> None:
    spans = n_plus_one(TRACE)
    tail_first = tmp_path / "a.jsonl"
    tail_first.write_text(split(spans, 4)[1])
    head = tmp_path / "b.jsonl"
    head.write_text(split(spans, 4)[0])
    traces = tmp_path / "t.db"
    out = import_otlp(traces, tail_first, head)
    # The orphans of the first file became traces of their own, until their root came.
    assert out.startswith("imported 1 traces (7 spans) from 2 files")
    whole = tmp_path / "whole.jsonl"
    whole.write_text(line(spans))
    import_otlp(tmp_path / "whole.db", whole)
    assert shape(traces) == shape(tmp_path / "whole.db")


def _two_services() -> list[dict[str, Any]]:
    """GET /orders calls the stock service, whose request runs 6 queries."""
    root = "0a" * 8
    call, stock = "0b" * 8, "0c" * 8
    server = {"http.method": "GET", "http.route": "/orders", "http.status_code": 200}
    client = {"http.method": "GET", "url.full": "http://stock.local/levels", "http.status_code": 200}
    stock_server = {"http.method": "GET", "http.route": "/levels", "http.status_code": 200}
    spans = [
        span(root, "GET /orders", 2, 0.0, 60.0, server, parent=None, trace=TRACE),
        span(call, "GET", 3, 5.0, 40.0, client, parent=root, trace=TRACE),
        span(stock, "GET /levels", 2, 6.0, 38.0, stock_server, parent=call, trace=TRACE),
    ]
    for i in range(6):
        statement = f"SELECT qty FROM stock WHERE item_id = {i + 1}"
        db = {"db.system": "postgresql", "db.statement": statement}
        spans.append(span(f"{i + 1:016x}", "SELECT", 3, 8.0 + i, 0.5, db, stock, TRACE))
    return spans


def test_late_spans_join_the_request_of_their_own_service(tmp_path: Path) -> None:
    spans = _two_services()
    first, second = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    first.write_text(line(spans[:4]))
    second.write_text(line(spans[4:]))
    traces = tmp_path / "t.db"
    import_otlp(traces, first)
    import_otlp(traces, second)
    by_id: dict[str, Trace] = {t.id: t for t in store.iter_traces(traces)}
    stock = by_id[f"{TRACE}-{'0c' * 8}"]
    assert stock.name == "GET /levels"
    assert [s.kind for s in stock.spans] == ["db"] * 6
    assert [s.kind for s in by_id[TRACE].spans] == ["http"]
    assert set(by_id) == {TRACE, stock.id}


def test_a_span_sent_twice_in_one_file_is_kept_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spans = n_plus_one(TRACE)
    src = tmp_path / "twice.jsonl"
    src.write_text(line(spans) + "".join(line(n_plus_one(t)) for t in OTHERS) + line(spans[-1:]))
    monkeypatch.setattr(command, "PENDING_SPANS", 10)
    command.run_import([str(src)], tmp_path / "t.db", Settings(), io.StringIO())
    assert len(shape(tmp_path / "t.db")[TRACE]) == 1 + 7


def test_a_store_with_traces_of_its_own_is_only_added_to(tmp_path: Path) -> None:
    """The bookkeeping table is the importer's: captured traces and readers ignore it."""
    spans = n_plus_one(TRACE)
    first, second = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    first.write_text(split(spans, 4)[0])
    second.write_text(split(spans, 4)[1])
    traces = tmp_path / "t.db"
    conn = store.open_for_writing(traces)
    store.write_traces(conn, [Trace("captured", "GET /home", "http", 1.0, 2.0, 200)])
    conn.close()
    import_otlp(traces, first)
    import_otlp(traces, second)
    assert {t.id for t in store.iter_traces(traces)} == {"captured", TRACE}
    exported = run_perfdoctor("export", "otlp", "--traces", str(traces))
    assert exported.returncode == 0, exported.stderr
    assert len([json.loads(x) for x in exported.stdout.splitlines()]) >= 1


@pytest.mark.parametrize(
    "damage",
    ["UPDATE otlp_traces SET spans = x'00ff'", "UPDATE traces SET spans = '[[1, 2'"],
    ids=["bookkeeping", "stored-trace"],
)
def test_damage_in_the_store_does_not_stop_an_import(tmp_path: Path, damage: str) -> None:
    spans = n_plus_one(TRACE)
    first, second = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    first.write_text(split(spans, 4)[0])
    second.write_text(split(spans, 4)[1])
    traces = tmp_path / "t.db"
    import_otlp(traces, first)
    with sqlite3.connect(traces) as conn:
        conn.execute(damage)
    out = import_otlp(traces, second)
    # Where the late spans belong is lost: they are kept as parts of their own.
    assert out.startswith("imported 4 traces (4 spans)")
    with sqlite3.connect(traces) as conn:
        ids = {row[0] for row in conn.execute("SELECT id FROM traces")}
    assert TRACE in ids and len(ids) == 5
