"""``perfdoctor run`` captures an app whose interpreter is not perfdoctor's.

The CLI lives in one venv (as with pipx or ``uv tool``); the app runs on another
Python version, in a venv that has none of perfdoctor's dependencies, nor
perfdoctor itself.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import perfdoctor
from tests.capture.apps_support import SCRIPTS, app_env, assert_n_plus_one, finding_at
from tests.conftest import report_json, run_perfdoctor
from tests.interpreters import python_or_skip


def _bare_venv(version: str, where: Path) -> Path:
    """A venv with nothing installed in it, not even pip."""
    subprocess.run([python_or_skip(version), "-m", "venv", "--without-pip", str(where)], check=True)
    return where / "bin" / "python"


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_app_in_another_interpreter_and_venv_is_captured(tmp_path: Path, version: str) -> None:
    python = _bare_venv(version, tmp_path / "app-venv")
    traces = tmp_path / "traces.db"
    script = SCRIPTS / "rows_one_by_one.py"

    result = run_perfdoctor(
        "run", "--traces", str(traces), "--", str(python), str(script), str(tmp_path / "app.db"),
        cwd=tmp_path, env=app_env(),
    )

    assert result.returncode == 0, result.stderr
    assert "capture is OFF" not in result.stderr, result.stderr
    report = report_json(traces, cwd=tmp_path)
    assert_n_plus_one(
        finding_at(report, "n-plus-one-query", "rows_one_by_one.py"), source=script,
        marker="other_interpreter", count=6, cwd=tmp_path, framework=None, function="main",
    )


def test_an_interpreter_capture_cannot_run_on_is_named_and_fails_the_run(tmp_path: Path) -> None:
    python = python_or_skip("3.8")
    traces = tmp_path / "traces.db"

    result = run_perfdoctor(
        "run", "--traces", str(traces), "--", python, str(SCRIPTS / "rows_one_by_one.py"),
        str(tmp_path / "app.db"), cwd=tmp_path, env=app_env(),
    )

    # The command itself succeeded; the run did not, since nothing was captured.
    assert result.returncode == 3, result.stderr
    lines = result.stderr.splitlines()
    # At once, from the process itself: which interpreter, why, the fix.
    assert any("capture is OFF" in line and "Python 3.8" in line for line in lines), lines
    assert any("why: perfdoctor's capture runs on Python 3.9 or newer" in line for line in lines)
    assert any(line.startswith("perfdoctor:   fix: ") for line in lines), lines
    # Again at the end, where a script's log shows it last.
    assert lines[-1] == f"perfdoctor: nothing was captured into {traces}", lines
    assert (tmp_path / "app.db").exists()  # the app ran


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_every_capture_module_imports_with_only_the_standard_library(
    tmp_path: Path, version: str
) -> None:
    # What `perfdoctor run` injects must import on the app's interpreter with none
    # of perfdoctor's dependencies (an integration only imports when its library
    # does, which a small script does not reach).
    python = _bare_venv(version, tmp_path / "app-venv")
    package = Path(perfdoctor.__file__).parent
    code = (
        "import importlib, pkgutil, sys\n"
        "import perfdoctor.capture, perfdoctor.orm\n"
        "names = ['perfdoctor.' + m for m in ('model', 'store', 'callsite', 'triggers', "
        "'fingerprint', 'settings', 'orm.catalog', 'orm.django_meta', 'orm.sqlalchemy_meta', "
        "'orm.stored')]\n"
        "names += [m.name for m in pkgutil.iter_modules(perfdoctor.capture.__path__, "
        "'perfdoctor.capture.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "third = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlglot', 'click', 'rich', 'jinja2', 'tomli'))\n"
        "print(len(names), third)\n"
    )
    result = subprocess.run(
        [str(python), "-c", code], env=app_env(PYTHONPATH=str(package.parent)),
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    count, third_party = result.stdout.split(" ", 1)
    assert int(count) > 30
    assert third_party.strip() == "[]"
