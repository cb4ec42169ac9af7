"""The command line as a user meets it: exit codes and one-line errors."""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import perfdoctor
from tests.inprocess import blog_db, capturing


def _perfdoctor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfdoctor", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def _store_with_n_plus_one(tmp_path: Path) -> Path:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = blog_db()
        with perfdoctor.trace("GET /articles", "http"):
            for (author_id,) in conn.execute("SELECT author_id FROM article").fetchall():
                conn.execute("SELECT name FROM author WHERE id = ?", (author_id,)).fetchone()
    return traces


def test_missing_store_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = _perfdoctor("report", "--traces", "missing.db", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("perfdoctor: error: no trace store at missing.db")
    assert "Traceback" not in result.stderr


def test_json_report_follows_contract_version_1(tmp_path: Path) -> None:
    traces = _store_with_n_plus_one(tmp_path)
    result = _perfdoctor("report", "--traces", str(traces), "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["version"] == 1
    [finding] = data["findings"]
    contract = {"id", "severity", "title", "endpoint", "location", "evidence", "fix"}
    # Version 1 grows by new keys only: trace_id names one stored request that shows it,
    # fingerprint what `report --baseline` matches on.
    assert set(finding) == contract | {"trace_id", "fingerprint"}
    with sqlite3.connect(traces) as db:
        assert db.execute("SELECT name FROM traces WHERE id = ?", (finding["trace_id"],)).fetchone()
    assert finding["id"] == "n-plus-one-query"
    assert set(finding["location"]) == {"path", "line", "function"}
    [endpoint] = data["endpoints"]
    assert endpoint["name"] == "GET /articles"
    assert endpoint["requests"] == 1
    assert endpoint["queries_per_request"] == 21
    for key in ("p50_ms", "p95_ms", "db_ms", "http_ms"):
        assert endpoint[key] >= 0


def test_fail_on_sets_the_exit_code(tmp_path: Path) -> None:
    traces = _store_with_n_plus_one(tmp_path)
    assert _perfdoctor("report", "--traces", str(traces), "--fail-on", "error", cwd=tmp_path).returncode == 1
    assert _perfdoctor("report", "--traces", str(traces), cwd=tmp_path).returncode == 0
    (tmp_path / "pyproject.toml").write_text(
        "[tool.perfdoctor]\nn_plus_one_min_repeats = 50\nn_plus_one_proven_min_repeats = 50\n"
        "duplicate_min_count = 100\n"
    )
    assert _perfdoctor("report", "--traces", str(traces), "--fail-on", "info", cwd=tmp_path).returncode == 0


def test_text_report_names_the_finding_and_the_line(tmp_path: Path) -> None:
    traces = _store_with_n_plus_one(tmp_path)
    result = _perfdoctor("report", "--traces", str(traces), cwd=tmp_path)
    assert "n-plus-one-query" in result.stdout
    assert "GET /articles" in result.stdout
    assert "test_cli.py:" in result.stdout


def test_bad_configuration_is_one_line_and_exit_2(tmp_path: Path) -> None:
    traces = _store_with_n_plus_one(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.perfdoctor]\nn_plus_one_repeats = 3\n")
    result = _perfdoctor("report", "--traces", str(traces), cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown setting 'n_plus_one_repeats'" in result.stderr
    assert result.stderr.count("\n") == 1


def test_run_without_a_command_or_with_a_missing_one(tmp_path: Path) -> None:
    missing = _perfdoctor("run", "--traces", "t.db", "--", "no-such-command-xyz", cwd=tmp_path)
    assert missing.returncode == 2
    assert "command not found: no-such-command-xyz" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_run_passes_on_the_exit_code_and_captures_a_script(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        "import sqlite3, sys\n"
        "conn = sqlite3.connect(':memory:')\n"
        "conn.execute('SELECT 1').fetchall()\n"
        "sys.exit(3)\n"
    )
    result = _perfdoctor("run", "--traces", "t.db", "--", sys.executable, "job.py", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    report = json.loads(_perfdoctor("report", "--traces", "t.db", "--format", "json", cwd=tmp_path).stdout)
    assert [e["name"] for e in report["endpoints"]] == ["job.py"]
