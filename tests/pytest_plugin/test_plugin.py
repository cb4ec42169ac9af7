"""`pytest --perfdoctor` on sample suites: each test a trace, its N+1 named by test and line."""

from __future__ import annotations

import re

import pytest
from _pytest.pytester import Pytester, RunResult

from tests.pytest_plugin.samples import SUITES, write


def run(pytester: Pytester, *args: str) -> RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_the_n_plus_one_is_found_with_the_test_name_and_line(
    pytester: Pytester, suite: str
) -> None:
    files, (where, test_line, test_id) = SUITES[suite]
    write(pytester, files)
    result = run(pytester, "--perfdoctor")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert "= perfdoctor =" in out
    # One finding, in the test that has the N+1, at the loop's line.
    assert "1 findings (1 error)" in out
    panel = re.search(r"ERROR\s+n-plus-one-query\s+(\S+)", out)
    assert panel is not None and panel.group(1) == test_id
    assert f"at {where} in " in out
    # ...and the test's own line that led there (the request it made).
    suffix = "" if where == test_line else f" (from {test_line})"
    assert f"ERROR n-plus-one-query in {test_id}: {where}{suffix}" in out
    # The fixed twin is a trace of its own, with no finding.
    fixed = re.search(rf"{re.escape(test_id)}_fixed\s+1\s+.*\s(\d+)$", out, re.MULTILINE)
    assert fixed is not None and fixed.group(1) == "0"
    assert result.ret == 0


@pytest.mark.parametrize("suite", ["django", "fastapi"])
def test_fail_on_error_fails_the_run(pytester: Pytester, suite: str) -> None:
    write(pytester, SUITES[suite][0])
    result = run(pytester, "--perfdoctor", "--perfdoctor-fail-on", "error")
    result.assert_outcomes(passed=2)
    assert result.ret == 1
    assert "perfdoctor: failing the run: findings at severity error or worse" in result.stdout.str()


def test_fail_on_passes_a_run_without_findings(pytester: Pytester) -> None:
    files = dict(SUITES["flask"][0])
    files["test_web.py"] = files["test_web.py"].replace(
        'client.get("/articles")', 'client.get("/articles-fixed")'
    )
    write(pytester, files)
    result = run(pytester, "--perfdoctor-fail-on", "error")
    result.assert_outcomes(passed=2)
    assert result.ret == 0
    assert "No findings" in result.stdout.str()


def test_traces_go_to_the_store_perfdoctor_report_reads(pytester: Pytester) -> None:
    write(pytester, SUITES["sqlalchemy"][0])
    store = pytester.path / "tests.db"
    result = run(pytester, "--perfdoctor", f"--perfdoctor-traces={store}")
    assert result.ret == 0
    from perfdoctor import store as trace_store

    traces = {t.name: t for t in trace_store.load_traces(store)}
    assert set(traces) == {
        "test_orm.py::test_titles_and_authors",
        "test_orm.py::test_titles_and_authors_fixed",
    }
    assert all(t.kind == "test" for t in traces.values())
    # The test body only: the session fixture's schema and rows are not in it.
    assert len(traces["test_orm.py::test_titles_and_authors"].db_spans()) == 13
    assert len(traces["test_orm.py::test_titles_and_authors_fixed"].db_spans()) == 1


INERT_CHECK = """
import sqlite3


def test_capture_is_off():
    from perfdoctor.capture import context

    assert not context.state.enabled
    assert not hasattr(sqlite3.connect, "__wrapped__")
"""


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_without_the_option_nothing_is_captured_and_the_output_is_unchanged(
    pytester: Pytester, suite: str
) -> None:
    write(pytester, SUITES[suite][0])
    pytester.makepyfile(test_inert=INERT_CHECK)
    with_plugin = run(pytester)
    without_plugin = run(pytester, "-p", "no:perfdoctor")
    with_plugin.assert_outcomes(passed=3)
    assert "perfdoctor" not in "\n".join(_stable(with_plugin.outlines))
    assert _stable(with_plugin.outlines) == _stable(without_plugin.outlines)
    assert not list(pytester.path.rglob("*.db"))
    assert not (pytester.path / ".perfdoctor").exists()


def _stable(lines: list[str]) -> list[str]:
    """The output from "collected" on (the header lists the plugins), without timings."""
    start = next(i for i, line in enumerate(lines) if line.startswith("collected"))
    return [re.sub(r" in [\d.]+s", "", line) for line in lines[start:]]


def test_this_suite_runs_without_capture(request: pytest.FixtureRequest) -> None:
    """The plugin is loaded here too (this folder's tests name its fixtures only
    inside sample files' strings): capture stays off in perfdoctor's own run."""
    from perfdoctor.pytest_plugin import _STATE_KEY

    assert request.config.stash.get(_STATE_KEY, None) is None
    assert request.config.pluginmanager.has_plugin("perfdoctor")


LIVE_SERVER_TEST = """
import threading
import urllib.request

from werkzeug.serving import make_server

from app import app


def test_live():
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/articles", timeout=30) as r:
        assert r.status == 200
    thread.join(30)
    server.server_close()
"""


def test_a_request_served_on_another_thread_joins_the_running_test(pytester: Pytester) -> None:
    files = {k: v for k, v in SUITES["flask"][0].items() if not k.startswith("test_")}
    write(pytester, files)
    pytester.makepyfile(test_live=LIVE_SERVER_TEST)
    result = run(pytester, "--perfdoctor")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    assert "1 traces, 1 endpoints, 1 findings (1 error)" in out
    assert "ERROR n-plus-one-query in test_live.py::test_live: app.py:14" in out
    assert "GET /articles" not in out
