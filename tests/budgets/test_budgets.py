"""[tool.perfdoctor.budgets]: a broken budget is a budget-exceeded error and fails `report`."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from perfdoctor.analysis.budgets import Budgets, check, parse
from perfdoctor.errors import ConfigError
from perfdoctor.settings import Settings
from tests.conftest import run_perfdoctor
from tests.inprocess import capturing, load

SLEEP_S = 0.25  # the slow endpoint: over a 100 ms p95 budget on any machine


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Flask app's requests, captured in this process: GET /slow and GET /fast."""
    path = tmp_path_factory.mktemp("budgets") / "traces.db"
    with capturing(path):
        from flask import Flask, jsonify

        app = Flask("budgets")

        def db() -> sqlite3.Connection:
            conn = sqlite3.connect(":memory:")
            conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)")
            return conn

        @app.get("/slow")
        def slow() -> object:
            conn = db()
            names = [
                conn.execute("SELECT name FROM item WHERE id = ?", (i,)).fetchone()
                for i in range(12)
            ]
            time.sleep(SLEEP_S)
            return jsonify(len(names))

        @app.get("/fast")
        def fast() -> object:
            return jsonify(db().execute("SELECT count(*) FROM item").fetchone()[0])

        client = app.test_client()
        for _ in range(3):
            # The trace ends when the server closes the body, as a WSGI server does.
            client.get("/slow").close()
            client.get("/fast").close()
    names = {t.name for t in load(path)}
    assert {"GET /slow", "GET /fast"} <= names
    return path


def project(tmp_path: Path, budgets: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        f'[project]\nname = "shop"\n\n[tool.perfdoctor.budgets]\n{budgets}\n', encoding="utf-8"
    )
    return tmp_path


BROKEN = """default = { p95_ms = 10000 }
"GET /slow" = { p95_ms = 100, max_queries = 5, max_memory_mb = 50 }
"""


def test_a_broken_budget_fails_report_with_the_endpoint_named(traces: Path, tmp_path: Path) -> None:
    cwd = project(tmp_path, BROKEN)
    result = run_perfdoctor("report", "--traces", str(traces), "--fail-on", "error", cwd=cwd)
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "budget-exceeded" in out
    assert "GET /slow is over its budget: p95 latency" in out
    assert "GET /slow is over its budget: queries per request (max) 13 queries, budget 5" in out
    # The budget table: every limit of every budgeted endpoint, measured.
    assert "Budgets, [tool.perfdoctor.budgets]" in out
    assert "OVER" in out
    assert "GET /fast is over its budget" not in out


def test_broken_budgets_in_the_json_report(traces: Path, tmp_path: Path) -> None:
    cwd = project(tmp_path, BROKEN)
    result = run_perfdoctor("report", "--traces", str(traces), "--format", "json", cwd=cwd)
    # No --fail-on: the findings are reported, the exit code stays 0.
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    broken = {f["evidence"]["limit"]: f for f in report["findings"] if f["id"] == "budget-exceeded"}
    assert set(broken) == {"p95_ms", "max_queries"}
    p95 = broken["p95_ms"]
    assert p95["severity"] == "error" and p95["endpoint"] == "GET /slow"
    assert p95["evidence"]["endpoint"] == "GET /slow"
    assert p95["evidence"]["budget"] == 100
    assert p95["evidence"]["measured"] >= SLEEP_S * 1000
    assert p95["location"]["path"].endswith("test_budgets.py")
    assert broken["max_queries"]["evidence"] == {
        "endpoint": "GET /slow",
        "limit": "max_queries",
        "budget": 5,
        "measured": 13,
        "requests": 3,
    }
    rows = {(r["endpoint"], r["limit"]): r for r in report["budgets"]}
    # Memory is measured only under --memory: shown, never a finding.
    assert rows[("GET /slow", "max_memory_mb")]["measured"] is None
    assert not rows[("GET /slow", "max_memory_mb")]["broken"]
    # GET /fast has the default table: p95 checked against 10 s, the seed's query p95 shown.
    assert rows[("GET /fast", "p95_ms")]["budget"] == 10000
    assert not rows[("GET /fast", "p95_ms")]["broken"]
    assert rows[("GET /fast", "query_p95_ms")] == {
        "endpoint": "GET /fast",
        "limit": "query_p95_ms",
        "budget": 100.0,
        "measured": rows[("GET /fast", "query_p95_ms")]["measured"],
        "explicit": False,
        "broken": False,
    }


def test_a_budget_that_holds_passes(traces: Path, tmp_path: Path) -> None:
    cwd = project(tmp_path, '"GET /slow" = { p95_ms = 60000, max_queries = 20 }\n')
    result = run_perfdoctor("report", "--traces", str(traces), "--fail-on", "error", cwd=cwd)
    assert "budget-exceeded" not in result.stdout
    assert "Budgets, [tool.perfdoctor.budgets]" in result.stdout
    # The N+1 in GET /slow is an error of its own; no budget is broken.
    report = json.loads(
        run_perfdoctor("report", "--traces", str(traces), "--format", "json", cwd=cwd).stdout
    )
    assert not [f for f in report["findings"] if f["id"] == "budget-exceeded"]


def test_without_budgets_no_budget_finding_nor_table(traces: Path, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "shop"\n', encoding="utf-8")
    result = run_perfdoctor("report", "--traces", str(traces), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "budget-exceeded" not in result.stdout
    assert "Budgets" not in result.stdout


@pytest.mark.parametrize(
    ("budgets", "message"),
    [
        ('"GET /slow" = { p95 = 100 }', "unknown limit 'p95' in budget 'GET /slow'"),
        ('"GET /slow" = { p95_ms = "fast" }', "p95_ms in budget 'GET /slow' must be a number >= 0"),
        ('"GET /slow" = 100', "budget 'GET /slow' must be a table"),
        ("default = { max_queries = -1 }", "max_queries in budget 'default' must be a number >= 0"),
    ],
)
def test_a_bad_budget_table_is_a_one_line_error(
    traces: Path, tmp_path: Path, budgets: str, message: str
) -> None:
    cwd = project(tmp_path, budgets)
    result = run_perfdoctor("report", "--traces", str(traces), cwd=cwd)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("perfdoctor: error: ")
    assert message in lines[0]


def test_budgets_not_a_table_is_a_one_line_error(traces: Path, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.perfdoctor]\nbudgets = 5\n", encoding="utf-8")
    result = run_perfdoctor("report", "--traces", str(traces), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "must be a table" in result.stderr


def test_seed_defaults_come_from_the_settings() -> None:
    budget = parse({"default": {"max_queries": 10}}).for_endpoint("GET /x", Settings())
    assert budget.limits == {
        "p95_ms": 500.0,
        "query_p95_ms": 100.0,
        "max_memory_mb": 100.0,
        "max_queries": 10.0,
    }
    assert budget.explicit == {"max_queries"}
    moved = Settings().replace(slow_endpoint_p95_ms=250.0)
    assert (
        parse({"default": {"max_queries": 10}}).for_endpoint("GET /x", moved).limits["p95_ms"]
        == 250.0
    )
    with pytest.raises(ConfigError):
        parse([1, 2])
    assert check([], Budgets(), Settings()) == ([], [])
