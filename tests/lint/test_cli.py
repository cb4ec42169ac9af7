"""``perfdoctor lint``: formats, exit codes, configuration, ``# noqa``, SARIF validity."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from perfdoctor.cli import main
from perfdoctor.lint import RULES
from tests.capture.apps_support import SCRIPTS, app_env
from tests.conftest import run_perfdoctor

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
SCHEMA = HERE / "sarif-schema-2.1.0.json"
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"

BAD = """import requests


def fetch(url):
    return requests.get(url)
"""


def _lint(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    if cwd is None:
        result = runner.invoke(main, ["lint", *args])
    else:
        old = Path.cwd()
        os.chdir(cwd)
        try:
            result = runner.invoke(main, ["lint", *args])
        finally:
            os.chdir(old)
    return result.exit_code, result.stdout, result.stderr


def _project(tmp_path: Path, source: str = BAD, config: str = "") -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'x'\n{config}")
    (tmp_path / "app.py").write_text(source)
    return tmp_path


def test_text_output_and_exit_code_1(tmp_path: Path) -> None:
    code, out, _ = _lint(str(_project(tmp_path)), cwd=tmp_path)
    assert code == 1
    assert out.splitlines()[0].startswith("app.py:5:12: PD201 requests.get() has no timeout")
    assert "1 finding in 1 files" in out


def test_clean_code_exits_0(tmp_path: Path) -> None:
    _project(tmp_path, BAD.replace("get(url)", "get(url, timeout=5)"))
    code, out, _ = _lint(str(tmp_path), cwd=tmp_path)
    assert code == 0, out


@pytest.mark.parametrize(
    "args", [["missing-dir"], ["--select", "PD999", "."], ["--format", "xml", "."]]
)
def test_bad_usage_exits_2_with_one_line(tmp_path: Path, args: list[str]) -> None:
    _project(tmp_path)
    code, _, err = _lint(*args, cwd=tmp_path)
    assert code == 2
    assert err.strip().count("\n") <= 3  # click's usage lines, or our one-line error


def test_json_output(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def (:\n")
    code, out, _ = _lint(str(_project(tmp_path)), "--format", "json", cwd=tmp_path)
    data = json.loads(out)
    assert code == 1
    assert data["files"] == 2 and data["parsed"] == 1
    assert data["skipped"][0]["path"] == "broken.py"
    finding, unparsable = data["findings"]
    # The runtime report's finding shape, plus lint's rule name, column and message.
    assert data["version"] == 2
    assert finding == {
        "id": "PD201",
        "rule": "http-no-timeout",
        "severity": "warning",
        "title": "requests.get() has no timeout",
        "location": {"path": "app.py", "line": 5, "function": "fetch"},
        "fix": "pass timeout=(3.05, 27) (connect, read seconds)",
        "col": 12,
        "message": "requests.get() has no timeout: pass timeout=(3.05, 27) (connect, read seconds)",
    }
    # The file no rule could check is a finding too, where the parser stopped.
    assert unparsable["message"].startswith("cannot parse: ")
    assert unparsable | {"message": "", "title": ""} == {
        "id": "PD001",
        "rule": "unparsable-file",
        "severity": "error",
        "title": "",
        "location": {"path": "broken.py", "line": 1, "function": None},
        "fix": "make the file valid Python, or ignore PD001 for it in [tool.perfdoctor.lint]",
        "col": 5,
        "message": "",
    }


def test_json_names_the_function_as_the_runtime_does(tmp_path: Path) -> None:
    source = """import requests
from urllib.request import urlopen


class Feed:
    def load(self, url):
        def inner():
            return urlopen(url)

        return inner(), [requests.get(u) for u in (url,)]


requests.get("https://example.org")
"""
    _, out, _ = _lint(str(_project(tmp_path, source)), "--format", "json", cwd=tmp_path)
    where = [
        (f["location"]["line"], f["location"]["function"]) for f in json.loads(out)["findings"]
    ]
    assert where == [(8, "Feed.load.<locals>.inner"), (10, "Feed.load"), (13, None)]


def _validate(sarif: dict[str, Any]) -> None:
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    validator(schema).validate(sarif)


def test_sarif_is_valid_against_the_official_schema() -> None:
    code, out, _ = _lint(str(FIXTURES), "--format", "sarif")
    sarif = json.loads(out)
    _validate(sarif)
    assert code == 1
    run = sarif["runs"][0]
    # What GitHub code scanning reads: rule ids, a level, relative URIs, 1-based lines.
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == sorted(RULES)
    assert run["results"]
    for result in run["results"]:
        location = result["locations"][0]["physicalLocation"]
        assert not location["artifactLocation"]["uri"].startswith("/")
        assert location["region"]["startLine"] >= 1
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any(
        "unparsable.py" in n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for n in notes
    )


def test_sarif_with_no_findings_is_valid(tmp_path: Path) -> None:
    _project(tmp_path, "x = 1\n")
    code, out, _ = _lint(str(tmp_path), "--format", "sarif", cwd=tmp_path)
    assert code == 0
    _validate(json.loads(out))


def test_select_and_ignore(tmp_path: Path) -> None:
    _project(tmp_path)
    assert _lint(".", "--ignore", "PD201", cwd=tmp_path)[0] == 0
    assert _lint(".", "--select", "PD1", cwd=tmp_path)[0] == 0
    assert _lint(".", "--select", "PD2", cwd=tmp_path)[0] == 1


def test_pyproject_configuration(tmp_path: Path) -> None:
    _project(tmp_path, config='[tool.perfdoctor.lint]\nignore = ["PD201"]\n')
    assert _lint(".", cwd=tmp_path)[0] == 0
    _project(tmp_path, config='[tool.perfdoctor.lint]\nper-file-ignores = { "app.py" = ["PD2"] }\n')
    assert _lint(".", cwd=tmp_path)[0] == 0
    _project(tmp_path, config='[tool.perfdoctor.lint]\nselect = ["PD1"]\n')
    assert _lint(".", cwd=tmp_path)[0] == 0
    _project(tmp_path, config='[tool.perfdoctor.lint]\nselekt = ["PD1"]\n')
    code, _, err = _lint(".", cwd=tmp_path)
    assert code == 2 and "unknown key 'selekt'" in err


@pytest.mark.parametrize(
    ("comment", "silenced"),
    [
        ("  # noqa", True),
        ("  # noqa: PD201", True),
        ("  # NOQA:PD102,PD201", True),
        ("  # noqa: PD102", False),
    ],
)
def test_noqa(tmp_path: Path, comment: str, silenced: bool) -> None:
    _project(tmp_path, BAD.replace("get(url)", "get(url)" + comment))
    assert _lint(".", cwd=tmp_path)[0] == (0 if silenced else 1)


def test_report_shows_static_finding_confirmed_by_measurement(tmp_path: Path) -> None:
    """The N+1 that PD101 sees in sa_script.py, measured under ``perfdoctor run``."""
    traces = tmp_path / "traces.db"
    script = SCRIPTS / "sa_script.py"
    ran = run_perfdoctor(
        "run",
        "--traces",
        str(traces),
        "--",
        sys.executable,
        str(script),
        f"sqlite:///{tmp_path / 'books.db'}",
        cwd=tmp_path,
        env=app_env(),
    )
    assert ran.returncode == 0, ran.stderr
    report = run_perfdoctor(
        "report", "--traces", str(traces), "--format", "json", "--lint", str(script), cwd=tmp_path
    )
    assert report.returncode == 0, report.stderr
    [n_plus_one] = [
        f for f in json.loads(report.stdout)["findings"] if f["id"] == "n-plus-one-query"
    ]
    [static] = n_plus_one["evidence"]["lint"]
    line = next(
        n for n, text in enumerate(script.read_text().splitlines(), 1) if "n+1: sa_script" in text
    )
    assert static["id"] == "PD101" and static["line"] == line == n_plus_one["location"]["line"]
    text = run_perfdoctor("report", "--traces", str(traces), "--lint", str(script), cwd=tmp_path)
    assert "static: PD101 book.publisher runs one query per row" in text.stdout
    assert "(confirmed by measurement)" in text.stdout
