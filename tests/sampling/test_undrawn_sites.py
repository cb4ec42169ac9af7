"""A request the head draw left out and the tail rule kept has the call sites a
drawn one has.

Under ``--sample`` the slow and failed requests are kept whether drawn or not,
and they are the ones whose lines matter.  Walking the stack only for the first
run of each statement in an undrawn request was tried (the walk is most of a
query's capture cost) and measured on Wagtail's bakery demo: the same image
lookup runs from a page's hero and from three card templates, and every one of
them was put at the hero's line. Every query of a kept request is walked.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from perfdoctor import store
from tests.capture.apps_support import app_env
from tests.conftest import findings, report_json, run_perfdoctor

APP = Path(__file__).parent / "undrawn_app.py"
SOURCE = APP.read_text().splitlines()
LOOP_LINE = next(n for n, text in enumerate(SOURCE, 1) if "# the loop's line" in text)
OTHER_LINE = next(n for n, text in enumerate(SOURCE, 1) if "# the same text, another line" in text)
REQUESTS = 6


@pytest.mark.parametrize(
    ("rate", "why"),
    [
        # No request is drawn at this rate with this seed: each failed, so each is kept.
        pytest.param("0.001", {"error"}, id="undrawn-kept-by-the-tail-rule"),
        pytest.param("1", None, id="all-drawn"),
    ],
)
def test_each_query_of_a_kept_request_is_at_its_own_line(
    tmp_path: Path, rate: str, why: set[str] | None
) -> None:
    traces = tmp_path / "traces.db"
    (tmp_path / "pyproject.toml").write_text("[tool.perfdoctor]\n")
    result = run_perfdoctor(
        "run", "--traces", str(traces), "--sample", rate, "--",
        sys.executable, str(APP), str(tmp_path / "app.db"), str(REQUESTS),
        cwd=tmp_path,
        env=app_env(PERFDOCTOR_SAMPLE_SEED="3"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    kept = [t for t in store.load_traces(traces) if t.kind == "http"]
    assert len(kept) == REQUESTS
    if why is not None:
        assert {t.attrs["sample"]["kept"] for t in kept} == why
    lookups = [
        [
            span.location.line if span.location else None
            for span in trace.spans
            if span.kind == "db" and span.statement and "WHERE id" in span.statement
        ]
        for trace in kept
    ]
    # The loop's 8 queries at the loop's line, the same statement after it at its own.
    assert lookups == [[LOOP_LINE] * 8 + [OTHER_LINE]] * REQUESTS
    n1 = findings(report_json(traces, cwd=tmp_path), "n-plus-one-query", "GET /orders")
    assert [f["location"]["line"] for f in n1] == [LOOP_LINE]
