"""A damaged trace store: what SQLite can still read is reported, with how much
was skipped; a store nothing can be read from is one line on stderr and exit 2."""

from __future__ import annotations

import os
import random
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.inprocess import seed_blog
from tests.reliability.damaged_stores import (
    ARTICLES,
    assert_one_line_error,
    expected_requests,
    ids_on_page,
    overwrite,
    page_of,
    page_size,
    perfdoctor_on,
    report,
    root_page,
    row_offset,
    trace_ids,
)


def _middle_trace(traces: Path) -> str:
    ids = trace_ids(traces)
    articles = [trace_id for trace_id, name in ids.items() if name == ARTICLES]
    return articles[len(articles) // 2]


def test_a_page_sqlite_refuses_skips_the_traces_on_it(traces: Path) -> None:
    ids = trace_ids(traces)
    page = page_of(traces, _middle_trace(traces), ARTICLES)
    on_page = ids_on_page(traces, page, list(ids))
    # Garbage where the page's b-tree header is: SQLite calls the page malformed.
    overwrite(traces, page * page_size(traces), b"\xff" * 12)
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(traces).execute("SELECT * FROM traces").fetchall()

    run = report(traces, "--format", "json")
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    skipped = run.json()["damaged"]["traces"]
    assert 1 <= skipped <= len(on_page)
    # Every trace not on that page is there; those on it are counted.
    read = run.requests()
    assert sum(read.values()) + skipped == len(ids)
    assert all(read[name] >= n for name, n in expected_requests(ids, on_page).items())
    # stderr: the one warning line (the JSON goes to tools)
    assert run.stderr.splitlines() == [
        f"perfdoctor: warning: skipped {skipped} damaged trace{'s' if skipped > 1 else ''} "
        f"in {traces}; capture again into a new store for complete results"
    ]

    text = report(traces)
    assert text.code == 0, text.stderr
    assert text.stderr == ""
    assert f"skipped {skipped} damaged trace" in text.stdout
    assert f"{len(ids) - skipped} traces" in text.stdout.splitlines()[0]


def test_bytes_overwritten_inside_a_trace_skip_that_trace_alone(traces: Path) -> None:
    ids = trace_ids(traces)
    victim = _middle_trace(traces)
    # The middle of the trace's spans: its JSON no longer decodes.
    offset = row_offset(traces, victim, ARTICLES) + 600
    overwrite(traces, offset, bytes(range(128, 192)))
    run = report(traces, "--format", "json")
    assert run.code == 0, run.stderr
    assert run.json()["damaged"] == {"traces": 1, "stacks": 0, "statements": 0, "orm_catalogs": 0}
    assert run.requests() == expected_requests(ids, {victim})


def test_a_store_whose_trace_table_sqlite_cannot_enter(traces: Path) -> None:
    # The top of the traces table's tree: no trace can be reached.
    overwrite(traces, root_page(traces, "traces") * page_size(traces), b"\xff" * 12)
    assert_one_line_error(report(traces), traces, "none of its traces can be read")


@pytest.mark.parametrize(
    "command",
    [
        ["report"],
        ["report", "--format", "json", "--fail-on", "info"],
        ["export", "otlp"],
        ["explain", "--db", "sqlite:///app.db"],
        ["indexes", "--db", "sqlite:///app.db"],
    ],
)
def test_random_bytes_are_one_line_and_exit_2_for_every_reader(
    tmp_path: Path, command: list[str]
) -> None:
    traces = tmp_path / "traces.db"
    traces.write_bytes(random.Random(7).randbytes(64 * 1024))
    sqlite3.connect(tmp_path / "app.db").close()
    run = perfdoctor_on(*command, "--traces", str(traces), cwd=tmp_path)
    assert_one_line_error(run, traces, "SQLite cannot read it")
    assert run.stdout == ""


def test_a_damaged_header_is_one_line_and_exit_2(traces: Path) -> None:
    overwrite(traces, 0, b"\x00" * 100)
    assert_one_line_error(report(traces), traces)


def test_a_store_cut_short_reports_the_traces_before_the_cut(traces: Path) -> None:
    ids = trace_ids(traces)
    page = page_of(traces, _middle_trace(traces), ARTICLES)
    size = traces.stat().st_size
    os.truncate(traces, page * page_size(traces))
    run = report(traces, "--format", "json")
    assert run.code == 0, run.stderr
    skipped = run.json()["damaged"]["traces"]
    read = sum(run.requests().values())
    assert skipped >= 1 and read >= 1 and read + skipped == len(ids)
    lines = run.stderr.splitlines()
    assert f"perfdoctor: warning: {traces} is cut short ({page * page_size(traces)} of {size} bytes)" in lines[1]
    assert len(lines) == 2 and "Traceback" not in run.stderr


def test_a_store_cut_inside_its_first_page_is_one_line_and_exit_2(traces: Path) -> None:
    os.truncate(traces, 1000)
    assert_one_line_error(report(traces), traces)


def test_reading_a_damaged_store_does_not_change_it(traces: Path) -> None:
    overwrite(traces, page_of(traces, _middle_trace(traces), ARTICLES) * page_size(traces), b"\xff" * 12)
    before = traces.read_bytes()
    assert report(traces).code == 0
    assert traces.read_bytes() == before


def _one_trace_damaged(traces: Path) -> str:
    """Damage one trace's spans; the warning line readers print for it."""
    overwrite(traces, row_offset(traces, _middle_trace(traces), ARTICLES) + 600, b"\xff" * 64)
    return (
        f"perfdoctor: warning: skipped 1 damaged trace in {traces}; "
        "capture again into a new store for complete results"
    )


def test_export_says_what_it_skipped(traces: Path) -> None:
    ids = trace_ids(traces)
    warning = _one_trace_damaged(traces)
    out = traces.parent / "traces.jsonl"
    run = perfdoctor_on("export", "otlp", "--traces", str(traces), "-o", str(out), cwd=traces.parent)
    assert run.code == 0, run.stderr
    assert run.stderr.splitlines() == [
        warning,
        f"perfdoctor: wrote {len(ids) - 1} traces as OTLP JSON to {out}",
    ]


def test_explain_of_the_stored_queries_says_what_it_skipped(traces: Path) -> None:
    warning = _one_trace_damaged(traces)
    with closing(sqlite3.connect(traces.parent / "app.db")) as conn, conn:
        seed_blog(conn, articles=20)
    run = perfdoctor_on(
        "explain", "--db", "sqlite:///app.db", "--traces", str(traces), cwd=traces.parent
    )
    assert run.code == 0, run.stderr
    assert run.stderr.splitlines() == [warning]
    assert "SELECT name FROM author WHERE id = ?" in run.stdout


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_report_files_carry_the_skipped_line(traces: Path, fmt: str) -> None:
    warning = _one_trace_damaged(traces)
    out = traces.parent / f"report.{fmt}"
    run = report(traces, "--format", fmt, "-o", str(out))
    assert run.code == 0, run.stderr
    assert run.stderr.splitlines() == [f"perfdoctor: wrote {fmt} report to {out}", warning]
    assert f"skipped 1 damaged trace in {traces}" in out.read_text()
