"""`perfdoctor compare` as a user meets it: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from perfdoctor.cli import main
from tests.compare.samples import endpoint, finding, latencies, result, write


@pytest.fixture(autouse=True)
def _no_project_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Away from the repo's pyproject.toml: the defaults apply.
    monkeypatch.chdir(tmp_path)


def _compare(*args: str) -> Result:
    return CliRunner().invoke(main, ["compare", *args])


def _files(tmp_path: Path, before: dict[str, Any], after: dict[str, Any]) -> tuple[str, str]:
    return write(tmp_path / "before.json", before), write(tmp_path / "after.json", after)


def _n_plus_one_fixed(tmp_path: Path) -> tuple[str, str]:
    """The demo story: N+1 endpoint before, its fixed twin after."""
    before = result(
        {
            "GET /articles": endpoint(latencies(1, median_ms=40.0), 31.0, 2048.0),
            "GET /authors": endpoint(latencies(2), 1.0, 300.0),
            "GET /old": endpoint(latencies(3)),
        },
        [finding(), finding("slow-query", "GET /authors", "warning", line=7)],
    )
    after = result(
        {
            "GET /articles": endpoint(latencies(4, median_ms=20.0), 2.0, 1024.0),
            "GET /authors": endpoint(latencies(5), 1.0, 300.0),
            "GET /new": endpoint(latencies(6)),
        },
        [finding("slow-query", "GET /authors", "warning", line=7)],
    )
    return _files(tmp_path, before, after)


def test_faster_is_exit_0_with_changes_in_json(tmp_path: Path) -> None:
    before, after = _n_plus_one_fixed(tmp_path)
    out = _compare(before, after, "--format", "json", "--seed", "1")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    by_name = {e["name"]: e for e in data["endpoints"]}
    articles = by_name["GET /articles"]
    assert articles["verdict"] == "faster"
    low, high = articles["median_ms"]["diff_interval"]
    assert low < articles["median_ms"]["diff"] < high < 0
    assert articles["queries_per_request"] == {"before": 31.0, "after": 2.0, "diff": -29.0}
    assert articles["memory_peak_kb"] == {"before": 2048.0, "after": 1024.0, "diff": -1024.0}
    assert by_name["GET /authors"]["verdict"] == "no detectable change"
    assert data["only_before"] == ["GET /old"] and data["only_after"] == ["GET /new"]
    disappeared = data["findings"]["disappeared"]
    assert [(f["id"], f["endpoint"]) for f in disappeared] == [
        ("n-plus-one-query", "GET /articles")
    ]
    assert data["findings"]["appeared"] == []
    assert data["regression"] is False and data["seed"] == 1


def test_text_fits_100_columns(tmp_path: Path) -> None:
    before, after = _n_plus_one_fixed(tmp_path)
    out = _compare(before, after, "--seed", "1")
    assert out.exit_code == 0
    text = out.stdout
    assert "GET /articles" in text and "faster" in text and "no detectable change" in text
    assert "31 → 2" in text and "2.0 → 1.0 MB" in text
    assert "only in before: GET /old" in text and "only in after: GET /new" in text
    assert "- ERROR  n-plus-one-query  GET /articles  app/views.py:42" in text
    assert "no regression" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_slower_is_a_regression(tmp_path: Path) -> None:
    before, after = _files(
        tmp_path,
        result({"GET /a": endpoint(latencies(1))}),
        result({"GET /a": endpoint(latencies(2, median_ms=30.0))}),
    )
    out = _compare(before, after, "--seed", "2")
    assert out.exit_code == 1
    assert "slower" in out.stdout and "regression: GET /a slower" in out.stdout


def test_new_error_finding_is_a_regression_a_new_warning_is_not(tmp_path: Path) -> None:
    same = endpoint(latencies(1))
    for severity, code in (("error", 1), ("warning", 0)):
        before, after = _files(
            tmp_path,
            result({"GET /a": same}),
            result({"GET /a": same}, [finding(severity=severity)]),
        )
        out = _compare(before, after, "--format", "json", "--seed", "3")
        assert out.exit_code == code, severity
        appeared = json.loads(out.stdout)["findings"]["appeared"]
        assert [f["severity"] for f in appeared] == [severity]


def test_findings_match_by_id_endpoint_file_and_function(tmp_path: Path) -> None:
    same = endpoint(latencies(1))
    moved = finding(line=50)
    elsewhere = finding(line=42) | {"location": {"path": "app/other.py", "line": 42}}
    before, after = _files(
        tmp_path,
        result(
            {"GET /a": same}, [finding(line=42), finding("duplicate-query", severity="warning")]
        ),
        # A line added above the unchanged N+1 moved it: the same finding, no regression.
        # The one in another file is new.
        result(
            {"GET /a": same},
            [moved, elsewhere, finding("duplicate-query", severity="warning")],
        ),
    )
    out = _compare(before, after, "--format", "json", "--seed", "1")
    data = json.loads(out.stdout)
    assert [f["location"]["path"] for f in data["findings"]["appeared"]] == ["app/other.py"]
    assert data["findings"]["disappeared"] == []


def test_same_seed_same_output(tmp_path: Path) -> None:
    before, after = _n_plus_one_fixed(tmp_path)
    first = _compare(before, after, "--format", "json", "--seed", "9", "--resamples", "500")
    again = _compare(before, after, "--format", "json", "--seed", "9", "--resamples", "500")
    assert first.stdout == again.stdout
    assert json.loads(first.stdout)["resamples"] == 500


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "not JSON"),
        ("[1, 2]", "top level is a JSON list"),
        ('{"version": 3, "endpoints": {}}', "newer perfdoctor"),
        ('{"version": 1, "endpoints": []}', "perfdoctor report"),
        ('{"version": 1}', "no `endpoints` object"),
        ('{"version": 1, "endpoints": {"GET /a": {"latencies_ms": ["x"]}}}', "latencies_ms"),
        ('{"version": 1, "endpoints": {}, "findings": [{}]}', "findings"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, content: str | None, message: str
) -> None:
    good = write(tmp_path / "good.json", result({}))
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content, encoding="utf-8")
    out = _compare(good, str(bad))
    assert out.exit_code == 2
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("perfdoctor: error: ") and message in lines[0]
    assert str(bad) in lines[0]


@pytest.mark.parametrize("args", [("--confidence", "1.5"), ("--resamples", "10")])
def test_bad_options_are_one_line_and_exit_2(tmp_path: Path, args: tuple[str, str]) -> None:
    good = write(tmp_path / "good.json", result({}))
    out = _compare(good, good, *args)
    assert out.exit_code == 2 and len(out.stderr.splitlines()) == 1


def test_as_a_user_runs_it(tmp_path: Path) -> None:
    before, after = _n_plus_one_fixed(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "perfdoctor", "compare", before, after, "--seed", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "faster" in run.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "perfdoctor", "compare", "nope.json", after],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "perfdoctor: error: nope.json: no such file (pass a `perfdoctor bench --output` file)"
    )


def test_pair_compares_an_endpoint_with_its_fixed_twin(tmp_path: Path) -> None:
    before, after = _files(
        tmp_path,
        result({"GET /articles": endpoint(latencies(1, median_ms=40.0), 31.0)}, [finding()]),
        result(
            {"GET /articles/fixed": endpoint(latencies(2), 2.0)},
            # Same finding id on the twin at another line: it counts as the same endpoint.
            [finding("duplicate-query", "GET /articles/fixed", "warning", line=90)],
        ),
    )
    alone = _compare(before, after, "--seed", "1")
    assert alone.exit_code == 0 and "--pair" in alone.stdout
    out = _compare(
        before,
        after,
        "--seed",
        "1",
        "--format",
        "json",
        "--pair",
        "GET /articles=GET /articles/fixed",
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    [articles] = data["endpoints"]
    assert (articles["name"], articles["after_name"]) == ("GET /articles", "GET /articles/fixed")
    assert articles["verdict"] == "faster"
    assert data["only_before"] == [] and data["only_after"] == []
    assert [f["id"] for f in data["findings"]["disappeared"]] == ["n-plus-one-query"]
    assert [f["id"] for f in data["findings"]["appeared"]] == ["duplicate-query"]
    text = _compare(before, after, "--seed", "1", "--pair", "GET /articles=GET /articles/fixed")
    assert text.exit_code == 0 and "GET /articles/fixed" in text.stdout


@pytest.mark.parametrize(
    ("pair", "message"),
    [("GET /articles", "bad --pair"), ("GET /nope=GET /a", "no endpoint 'GET /nope' in BEFORE")],
)
def test_bad_pair_is_one_line_and_exit_2(tmp_path: Path, pair: str, message: str) -> None:
    good = write(tmp_path / "good.json", result({"GET /a": endpoint(latencies(1))}))
    out = _compare(good, good, "--pair", pair)
    assert out.exit_code == 2
    assert len(out.stderr.splitlines()) == 1 and message in out.stderr


def test_long_names_and_no_verdict_still_fit_100_columns(tmp_path: Path) -> None:
    long_name = "GET /api/v1/organisations/{organisation_id}/projects/{project_id}/reports"
    before, after = _files(
        tmp_path,
        result({long_name: endpoint(latencies(1, median_ms=900.0)), "GET /few": endpoint([1.0])}),
        result({long_name: endpoint(latencies(2, median_ms=300.0)), "GET /few": endpoint([2.0])}),
    )
    out = _compare(before, after, "--seed", "5")
    assert out.exit_code == 0
    assert "too few samples" in out.stdout and "faster" in out.stdout
    assert max(len(line) for line in out.stdout.splitlines()) <= 100


def test_thresholds_come_from_pyproject(tmp_path: Path) -> None:
    before_samples = latencies(3, n=5000)
    before, after = _files(
        tmp_path,
        result({"GET /a": endpoint(before_samples)}),
        result({"GET /a": endpoint([v * 1.03 for v in latencies(4, n=5000)])}),
    )
    # A real 3% slowdown: under the 10% default, a regression once the project asks for 1%.
    assert _compare(before, after, "--seed", "1").exit_code == 0
    (tmp_path / "pyproject.toml").write_text(
        "[tool.perfdoctor]\ncompare_min_change_pct = 1\ncompare_run_drift_pct = 0\n"
    )
    out = _compare(before, after, "--seed", "1")
    assert out.exit_code == 1 and "slower" in out.stdout
