"""One exit-code rule for every command: 0 done, 1 findings, 2 could not do the job,
with one line on stderr per bad input and never a traceback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from perfdoctor.cli import main
from tests.conftest import run_perfdoctor
from tests.otlp.otlp_lines import line, n_plus_one


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "damaged.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    (tmp_path / "text.json").write_text("not json\n")
    (tmp_path / "empty.jsonl").write_text('{"resourceSpans": [{"scopeSpans": [{"spans": []}]}]}\n')
    (tmp_path / "good.jsonl").write_text(line(n_plus_one("ab" * 16)))
    (tmp_path / "no-python").mkdir()
    (tmp_path / "clean.py").write_text("x = 1\n")
    (tmp_path / "broken.py").write_text("def (:\n")
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    return tmp_path


def invoke(folder: Path, *args: str) -> tuple[int, str, str]:
    args = tuple(a.replace("{d}", str(folder)) for a in args)
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


BAD_INPUT = [
    ("report", "--traces", "{d}/missing.db"),
    ("report", "--traces", "{d}/damaged.db"),
    ("report", "--traces", "{d}/no-python"),
    ("report", "--traces", "{d}/missing.db", "--baseline", "{d}/text.json"),
    ("export", "otlp", "--traces", "{d}/damaged.db"),
    ("import", "otlp", "{d}/text.json", "--traces", "{d}/t.db"),
    ("import", "otlp", "{d}/empty.jsonl", "--traces", "{d}/t.db"),
    ("import", "otlp", "{d}/good.jsonl", "--traces", "{d}/damaged.db"),
    ("compare", "{d}/text.json", "{d}/text.json"),
    ("merge", "{d}/text.json"),
    ("merge", "{d}/missing.json"),
    ("lint", "{d}/no-python"),
    ("lint", "{d}/missing.py"),
    ("explain", "--db", "sqlite:///{d}/app.db", "--query", "SELEC name FROM items"),
    ("explain", "--db", "sqlite:///{d}/app.db", "--query", "SELECT name FROM nowhere"),
    ("indexes", "--db", "sqlite:///{d}/app.db", "--query", "DELETE FROM items"),
    ("explain", "--db", "sqlite:///{d}/damaged.db", "--query", "SELECT 1"),
    ("bench", "--endpoint", "GET /"),
    ("audit", "--rounds", "0", "--traces", "{d}/demo.db"),
]


@pytest.mark.parametrize("args", BAD_INPUT, ids=lambda a: " ".join(a[:3]).replace("{d}/", ""))
def test_bad_input_is_one_line_and_exit_2(files: Path, args: tuple[str, ...]) -> None:
    code, _, err = invoke(files, *args)
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("perfdoctor: error: "), err


def test_what_was_fine_before_is_still_exit_0(files: Path) -> None:
    assert invoke(files, "lint", "{d}/clean.py")[0] == 0
    assert invoke(files, "import", "otlp", "{d}/good.jsonl", "--traces", "{d}/t.db")[0] == 0
    assert invoke(files, "report", "--traces", "{d}/t.db")[0] == 0
    assert invoke(files, "export", "otlp", "--traces", "{d}/t.db")[0] == 0
    query = ("--query", "SELECT name FROM items WHERE id = 1")
    assert invoke(files, "explain", "--db", "sqlite:///{d}/app.db", *query)[0] == 0
    assert invoke(files, "indexes", "--db", "sqlite:///{d}/app.db", *query)[0] == 0


def test_findings_are_exit_1(files: Path) -> None:
    assert invoke(files, "lint", "{d}/broken.py")[0] == 1
    assert invoke(files, "import", "otlp", "{d}/good.jsonl", "--traces", "{d}/t.db")[0] == 0
    code, out, _ = invoke(files, "report", "--traces", "{d}/t.db", "--fail-on", "warning")
    assert code == 1, out


def test_the_rule_is_in_the_help() -> None:
    code, out, _ = invoke(Path("."), "--help")
    assert code == 0
    assert "Exit codes, every command:" in out
    assert "2  could not do the job" in out


def test_a_bug_exits_2_not_1_with_its_traceback(
    files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import perfdoctor.lint

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something perfdoctor did not expect\non two lines")

    monkeypatch.setattr(perfdoctor.lint, "lint_paths", broken)
    code, _, err = invoke(files, "lint", "{d}/clean.py")
    assert code == 2
    assert "Traceback" in err
    assert err.splitlines()[-1] == (
        "perfdoctor: error: internal error, a bug to report: "
        "RuntimeError: something perfdoctor did not expect on two lines"
    )


def test_ctrl_c_exits_130(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import perfdoctor.lint

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(perfdoctor.lint, "lint_paths", interrupted)
    code, _, err = invoke(files, "lint", "{d}/clean.py")
    assert (code, err) == (130, "perfdoctor: interrupted\n")


def test_in_a_real_process_too(files: Path) -> None:
    """The codes reach the shell: exit 2, one line, for an OTLP file with nothing in it."""
    empty = files / "empty.jsonl"
    result = run_perfdoctor("import", "otlp", str(empty), "--traces", "t.db", cwd=files)
    assert result.returncode == 2
    assert result.stderr == (
        f"perfdoctor: error: {empty}: nothing could be imported (no spans in it)\n"
    )
    assert not (files / "t.db").exists()
    lint = run_perfdoctor("lint", str(files / "broken.py"), "--format", "json", cwd=files)
    assert lint.returncode == 1, lint.stderr
    assert json.loads(lint.stdout)["findings"][0]["id"] == "PD001"
