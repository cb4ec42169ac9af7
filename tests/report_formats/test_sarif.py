"""`perfdoctor report --format sarif`: runtime findings on the user's line in code scanning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from perfdoctor.analysis.analyze import Analysis
from perfdoctor.cli import main
from perfdoctor.model import Finding, Location
from perfdoctor.report.sarif import to_sarif
from tests.lint.test_cli import _validate
from tests.report_formats.stores import N_PLUS_ONE_LINE, n_plus_one_store


def _sarif(traces: Path, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(cwd)
    out = CliRunner().invoke(main, ["report", "--traces", str(traces), "--format", "sarif"])
    assert out.exit_code == 0, out.output
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def test_valid_against_the_official_schema_with_the_n_plus_one_on_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Path(__file__).resolve().parents[2]
    sarif = _sarif(n_plus_one_store(tmp_path), repo, monkeypatch)
    _validate(sarif)
    run = sarif["runs"][0]
    [result] = run["results"]
    assert result["ruleId"] == "n-plus-one-query" and result["level"] == "error"
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "n-plus-one-query"
    [location] = result["locations"]
    physical = location["physicalLocation"]
    # Relative to the project, as code scanning matches files by repository path.
    assert physical["artifactLocation"] == {
        "uri": "tests/report_formats/stores.py",
        "uriBaseId": "%SRCROOT%",
    }
    assert physical["region"] == {"startLine": N_PLUS_ONE_LINE}
    message = result["message"]["text"]
    assert message.startswith("GET /articles: N+1 queries: 20 queries")
    assert "20 queries" in message and "runs per request: 20" in message and "Fix:" in message
    assert result["properties"]["endpoint"] == "GET /articles"
    [related] = result["relatedLocations"]
    assert related["physicalLocation"]["region"]["startLine"] == N_PLUS_ONE_LINE - 1


def test_same_finding_same_fingerprint_across_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _sarif(n_plus_one_store(tmp_path / "a"), tmp_path, monkeypatch)
    second = _sarif(n_plus_one_store(tmp_path / "b", requests=3), tmp_path, monkeypatch)
    [one], [two] = first["runs"][0]["results"], second["runs"][0]["results"]
    assert one["partialFingerprints"] == two["partialFingerprints"] != {}


def test_findings_without_a_call_site_are_counted_not_dropped_silently() -> None:
    located = Finding(
        "sequential-http",
        "warning",
        "3 calls one after another",
        "GET /home",
        Location("app/views.py", 12, "home"),
        {"count": 3},
        "Run them concurrently.",
    )
    unlocated = Finding(
        "missing-http-cache", "info", "no Cache-Control", "GET /home", None, {}, "Add one."
    )
    sarif = to_sarif(Analysis(findings=[located, unlocated], endpoints=[]))
    _validate(sarif)
    run = sarif["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["sequential-http"]
    assert run["results"][0]["level"] == "warning"
    [note] = run["invocations"][0]["toolExecutionNotifications"]
    assert note["message"]["text"].startswith("1 finding with no call site in your code left out")
    assert "missing-http-cache" in note["message"]["text"]


def test_no_findings_is_a_valid_empty_log(tmp_path: Path) -> None:
    sarif = to_sarif(Analysis(findings=[], endpoints=[]))
    _validate(sarif)
    assert sarif["runs"][0]["results"] == []
    assert {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]} >= {
        "n-plus-one-query",
        "sequential-http",
        "budget-exceeded",
    }
