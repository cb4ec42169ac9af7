"""Terminal tables keep each endpoint on one line: long names are cut in the middle.

Rendered at 80 and 120 columns, by the report's own renderer and by `perfdoctor
report` on a real pseudo-terminal; JSON keeps the names whole.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.report import text
from perfdoctor.report.names import ELLIPSIS, shorten, shorten_all
from perfdoctor.settings import Settings
from tests.compare import samples
from tests.conftest import run_perfdoctor
from tests.inprocess import blog_db, capturing, load
from tests.terminal.tty import run_on_tty

LONG = (
    "GET /database/authors/{author_id}/dashboard",
    "GET /database/authors/{author_id}/dashboard/fixed",
    "GET /external/authors/{author_id}/dashboard",
    "POST /responses/authors/{author_id}/follow/fixed",
    "tests/test_views.py::test_recent_orders_lists_customers",
    "tests/test_views.py::test_recent_orders_lists_authors",
)
SHORT = "GET /articles"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("names") / "traces.db"
    with capturing(path):
        conn = blog_db()
        for name in (*LONG, SHORT):
            for _ in range(2):
                with perfdoctor.trace(name, "http"):
                    conn.execute("SELECT * FROM article").fetchall()
    return path


def _rendered(traces: Path, width: int) -> list[str]:
    out = io.StringIO()
    text.render(analyze(load(traces), Settings()), out, width=width)
    return out.getvalue().splitlines()


def _table_rows(lines: list[str]) -> list[str]:
    """The endpoint table's rows: from below its rule to the first line without numbers."""
    start = next(i for i, line in enumerate(lines) if line.startswith("───")) + 1
    rows = []
    for line in lines[start:]:
        if not line.strip() or not line.rstrip()[-1].isdigit():
            break
        rows.append(line)
    return rows


@pytest.mark.parametrize("width", [80, 120])
def test_each_endpoint_is_one_row_cut_in_the_middle(traces: Path, width: int) -> None:
    lines = _rendered(traces, width)
    rows = _table_rows(lines)
    # One row per endpoint, nothing folded onto a line of its own.
    assert len(rows) == len(LONG) + 1
    assert all(len(line) <= width for line in lines)
    names = [row.split("  ")[0] for row in rows]
    assert SHORT in names  # a name that fits is left alone
    cut = [n for n in names if ELLIPSIS in n]
    assert cut, names
    # The method and the end stay: the end tells the rows apart.
    assert any(n.startswith("GET ") and n.endswith("/dashboard/fixed") for n in cut)
    assert any(n.startswith("POST ") and n.endswith("/follow/fixed") for n in cut)
    assert any(n.endswith("lists_customers") for n in names)
    assert len(set(names)) == len(names)


def test_120_columns_keep_every_number_column(traces: Path) -> None:
    header = next(line for line in _rendered(traces, 120) if line.startswith("endpoint"))
    for column in ("reqs", "p50", "p95", "p99", "q/req", "db", "http", "cache", "python"):
        assert column in header.split()


def test_80_columns_leave_out_columns_and_say_which(traces: Path) -> None:
    lines = _rendered(traces, 80)
    header = next(line for line in lines if line.startswith("endpoint")).split()
    for column in ("reqs", "p95", "q/req", "findings"):
        assert column in header
    note = next(line for line in lines if "left out to fit 80 columns" in line)
    left_out = note.strip("(").split(" left out")[0].split(", ")
    assert left_out and not set(left_out) & set(header)


def test_json_keeps_the_full_names(traces: Path) -> None:
    result = run_perfdoctor("report", "--traces", str(traces), "--format", "json")
    names = {e["name"] for e in json.loads(result.stdout)["endpoints"]}
    assert set(LONG) <= names
    assert not any(ELLIPSIS in name for name in names)


@pytest.mark.parametrize("columns", [80, 120])
def test_report_on_a_real_terminal_keeps_rows_whole(traces: Path, columns: int) -> None:
    ran = run_on_tty("report", "--traces", str(traces), tty="stdout", columns=columns)
    assert ran.returncode == 0, ran.piped
    lines = ran.terminal.splitlines()
    assert all(len(line) <= columns for line in lines)
    rows = _table_rows(lines)
    assert len(rows) == len(LONG) + 1
    assert any(ELLIPSIS in row for row in rows)


def test_shorten_keeps_method_and_end_within_the_room() -> None:
    name = "GET /database/authors/{author_id}/dashboard/fixed"
    assert shorten(name, len(name)) == name
    for room in range(12, len(name)):
        short = shorten(name, room)
        assert len(short) <= room
        assert short.startswith("GET ") and ELLIPSIS in short
        assert short.endswith("fixed")
    assert shorten(name, 42) == "GET …/authors/{author_id}/dashboard/fixed"
    assert shorten("tests/test_views.py::test_recent_orders_lists_customers", 50) == (
        "tests/…::test_recent_orders_lists_customers"
    )


def test_names_that_would_read_the_same_keep_their_start() -> None:
    names = [
        "GET /database/authors/{author_id}/dashboard",
        "GET /external/authors/{author_id}/dashboard",
    ]
    assert len({shorten(n, 40) for n in names}) == 1
    assert shorten_all(names, 40) == [
        "GET /database/…/{author_id}/dashboard",
        "GET /external/…/{author_id}/dashboard",
    ]


# healthchecks' check pages, benchmarked by their ids: alike at both ends, the
# ids ending in the same character.
_CHECKS = [
    "GET /checks/e08a486f-fc15-4a3a-8bab-9b3567de34c6/details/",
    "GET /checks/283365ae-0278-4372-9f21-ec60c46a6266/details/",
    "GET /projects/130bb477-f15c-4b01-b1f4-15dcdcd2452f/checks/",
]


@pytest.mark.parametrize("room", [12, 15, 20, 30, 40])
def test_names_alike_at_both_ends_are_told_apart_where_they_differ(room: int) -> None:
    short = shorten_all(_CHECKS, room)
    assert all(len(text) <= room and text.startswith("GET ") for text in short)
    assert len(set(short)) == 3
    if room == 15:  # the id itself, from its start
        assert short[:2] == ["GET …/e08a486f…", "GET …/283365ae…"]


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    folder = tmp_path_factory.mktemp("compare-names")
    names = [f"GET /area{n}/authors/{{author_id}}/dashboard/with-a-long-name" for n in range(3)]
    files = []
    for side, shift in (("before", 0.0), ("after", 1.0)):
        endpoints = {
            name: samples.endpoint(samples.latencies(n, 300, shift_ms=shift))
            for n, name in enumerate(names)
        }
        files.append(samples.write(folder / f"{side}.json", samples.result(endpoints)))
    return files


@pytest.mark.parametrize("columns", [80, 120])
def test_compare_keeps_each_endpoint_on_one_line(comparison: list[str], columns: int) -> None:
    ran = run_on_tty("compare", *comparison, "--seed", "1", tty="stdout", columns=columns)
    assert ran.returncode in (0, 1), ran.piped
    lines = ran.terminal.splitlines()
    assert all(len(line) <= columns for line in lines)
    # The table's rows (the sentences after the table name endpoints whole).
    rows = [line for line in lines if line.startswith("GET /area") and "→" in line]
    assert len(rows) == 3 and all(ELLIPSIS in row for row in rows)
    assert len({row.split("  ")[0] for row in rows}) == 3
    if columns == 80:  # what did not fit is named
        assert any("p95 left out to fit 80 columns" in line for line in lines)


def test_bench_table_fits_80_columns() -> None:
    args = ["--app", "tests.bench.flask_blog:app", "--endpoint", "GET /articles/fixed"]
    ran = run_on_tty(
        "bench", *args, "--requests", "5", "--rounds", "1", tty="stdout", columns=80, cwd=ROOT
    )
    assert ran.returncode == 0, ran.piped
    lines = ran.terminal.splitlines()
    assert all(len(line) <= 80 for line in lines)
    header = next(line for line in lines if line.startswith("endpoint"))
    assert header.split() == [
        "endpoint",
        "req",
        "err",
        "p50",
        "p95",
        "p99",
        "max",
        "q/req",
        "mem",
        "KB",
    ]
    [row] = [line for line in lines if line.startswith("GET ")]
    assert row.startswith("GET /articles/fixed ")
