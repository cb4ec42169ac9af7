"""A request the head draw left out records each statement's call site once.

Under ``--sample`` most requests are dropped at their end; the few kept for being
slow or failed are the ones whose call sites matter.  Such a request walks the
stack for the first run of each statement text only: the loop's later queries
carry the loop's line, and the report's N+1 finding is the same as with every
request drawn.  A statement run again from another line is taken to come from
the first (the price, said in the trace's ``sample`` attributes).
"""

from __future__ import annotations

import sys
from pathlib import Path

from perfdoctor import store
from tests.capture.apps_support import app_env
from tests.conftest import findings, report_json, run_perfdoctor

APP = Path(__file__).parent / "undrawn_app.py"
SOURCE = APP.read_text().splitlines()
LOOP_LINE = next(n for n, text in enumerate(SOURCE, 1) if "# the loop's line" in text)
OTHER_LINE = next(n for n, text in enumerate(SOURCE, 1) if "# the same text, another line" in text)
REQUESTS = 6


def _run(tmp_path: Path, *options: str) -> Path:
    traces = tmp_path / "traces.db"
    (tmp_path / "pyproject.toml").write_text("[tool.perfdoctor]\n")
    result = run_perfdoctor(
        "run", "--traces", str(traces), *options, "--",
        sys.executable, str(APP), str(tmp_path / "app.db"), str(REQUESTS),
        cwd=tmp_path,
        # A draw of 0.999... against a rate of 0.001: no request is drawn.
        env=app_env(PERFDOCTOR_SAMPLE_SEED="3"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return traces


def _lookup_lines(traces: Path) -> list[list[int | None]]:
    found = []
    for trace in store.load_traces(traces):
        if trace.kind != "http":
            continue
        found.append(
            [
                span.location.line if span.location else None
                for span in trace.spans
                if span.kind == "db" and span.statement and "WHERE id" in span.statement
            ]
        )
    return found


def test_a_failed_undrawn_request_carries_each_statements_first_call_site(tmp_path: Path) -> None:
    traces = _run(tmp_path, "--sample", "0.001")
    kept = [t for t in store.load_traces(traces) if t.kind == "http"]
    # Every request failed, so the tail rule kept each, none by the draw.
    assert len(kept) == REQUESTS
    assert {t.attrs["sample"]["kept"] for t in kept} == {"error"}
    assert {t.attrs["sample"]["call_sites"] for t in kept} == {"first-run"}
    # 8 loop queries and the one after: all at the loop's line (the first run's).
    assert _lookup_lines(traces) == [[LOOP_LINE] * 9] * REQUESTS
    n1 = findings(report_json(traces, cwd=tmp_path), "n-plus-one-query", "GET /orders")
    assert [f["location"]["line"] for f in n1] == [LOOP_LINE]


def test_a_drawn_request_walks_every_query(tmp_path: Path) -> None:
    traces = _run(tmp_path, "--sample", "1")
    kept = [t for t in store.load_traces(traces) if t.kind == "http"]
    assert len(kept) == REQUESTS
    assert all("call_sites" not in t.attrs.get("sample", {}) for t in kept)
    assert _lookup_lines(traces) == [[LOOP_LINE] * 8 + [OTHER_LINE]] * REQUESTS
    n1 = findings(report_json(traces, cwd=tmp_path), "n-plus-one-query", "GET /orders")
    assert [f["location"]["line"] for f in n1] == [LOOP_LINE]
