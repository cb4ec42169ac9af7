"""``perfdoctor report --baseline old.json``: only what is new, with how many were not shown."""

from __future__ import annotations

import json

import pytest

from tests.suppress.conftest import ADMIN_POSTS, API_COMMENTS, API_POSTS, N1, Project, shown


@pytest.fixture
def baseline(project: Project) -> Project:
    """old.json: a report of GET /api/posts alone; then every endpoint captured."""
    project.capture(API_POSTS, traces="old.db")
    (project.root / "old.json").write_text(json.dumps(project.report_json(traces="old.db")))
    project.capture()
    return project


def test_only_new_findings_show(baseline: Project) -> None:
    report = baseline.report_json("--baseline", "old.json")
    assert shown(report) == [(N1, ADMIN_POSTS), (N1, API_COMMENTS)]
    assert report["suppressed"]["baseline"] == 1
    out = baseline.report("--baseline", "old.json").stdout
    assert "1 finding in the baseline not shown" in out


def test_a_baseline_of_everything_passes_fail_on(baseline: Project) -> None:
    (baseline.root / "all.json").write_text(json.dumps(baseline.report_json()))
    assert baseline.report("--fail-on", "warning").returncode == 1
    result = baseline.report("--baseline", "all.json", "--fail-on", "warning")
    assert result.returncode == 0
    assert "3 findings in the baseline not shown" in result.stdout


def test_an_old_baseline_without_fingerprints_matches_on_place(baseline: Project) -> None:
    old = json.loads((baseline.root / "old.json").read_text())
    for finding in old["findings"]:
        del finding["fingerprint"]
    (baseline.root / "old.json").write_text(json.dumps(old))
    report = baseline.report_json("--baseline", "old.json")
    assert shown(report) == [(N1, ADMIN_POSTS), (N1, API_COMMENTS)]
    assert report["suppressed"]["baseline"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read it"),
        ("{not json", "not JSON"),
        ('{"findings": "x"}', "not a perfdoctor JSON report"),
        ('{"version": 1, "findings": [{"severity": "error"}]}', "a finding without an id"),
    ],
)
def test_a_bad_baseline_is_one_line_and_exit_2(
    captured: Project, content: str | None, message: str
) -> None:
    if content is not None:
        (captured.root / "old.json").write_text(content)
    result = captured.report("--baseline", "old.json")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("perfdoctor: error: --baseline old.json: ") and message in line, line
