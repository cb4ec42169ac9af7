"""Old and new apps, each in a venv of its own (tests/matrix/envs.py), used with
perfdoctor both ways a user can:

1. the CLI in the project's venv, the app in its venv with no perfdoctor in it:
   ``perfdoctor run -- <venv>/bin/python manage.py runserver`` (or ``flask run``,
   gunicorn) serving real requests, then ``perfdoctor report``;
2. perfdoctor installed into the app's venv: no pinned package changes version,
   and ``pytest --perfdoctor`` on the app's own tests reports the N+1 there.

Each app has an N+1 on ``/books`` and its fixed twin ``/books/fixed``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import findings, free_port, get, report_json, serve_under_perfdoctor
from tests.matrix import envs
from tests.matrix.support import (
    app_copy,
    expected_fix,
    freeze,
    n_plus_one_site,
    seed,
    server_command,
    venv_python,
)

SELECTED = [env for env in envs.selected() if env.app]


@pytest.mark.parametrize("env", SELECTED, ids=str)
def test_perfdoctor_run_captures_the_app_in_its_own_venv(env: envs.Env, tmp_path: Path) -> None:
    python = venv_python(env)
    traces = tmp_path / "traces.db"
    with app_copy(env, tmp_path) as (app, variables):
        bare = subprocess.run(
            [str(python), "-c", "import perfdoctor"], cwd=app, env=variables, capture_output=True
        )
        assert bare.returncode != 0, "perfdoctor is importable in the app's venv"
        seed(env, python, app, variables)
        base = f"http://127.0.0.1:{free_port()}"
        command = server_command(env, python, int(base.rsplit(":", 1)[1]))
        with serve_under_perfdoctor(
            command, traces, f"{base}/books/fixed", cwd=app, env=variables
        ) as server:
            for _ in range(2):
                assert get(f"{base}/books")[0] == 200
                assert get(f"{base}/books/fixed")[0] == 200
    output = server.captured_output  # type: ignore[attr-defined]
    assert "capture is OFF" not in output, output

    report = report_json(traces, cwd=app)
    [finding] = findings(report, "n-plus-one-query", "GET /books")
    assert_the_n_plus_one(env, app, finding)
    on_fixed = {f["id"] for f in report["findings"] if f["endpoint"] == "GET /books/fixed"}
    # runserver serves each request on a thread of its own, with a connection of
    # its own: true of the dev server, whatever the view does.
    allowed = {"no-connection-reuse"} if env.server == "runserver" else set()
    assert on_fixed <= allowed, report["findings"]


@pytest.mark.parametrize("env", SELECTED, ids=str)
def test_installed_into_the_venv_it_changes_no_pin_and_its_pytest_plugin_reports(
    env: envs.Env, tmp_path: Path
) -> None:
    python = venv_python(env, twin=True)
    before = freeze(env.venv(twin=True) / "freeze-before.txt")
    after = freeze(env.venv(twin=True) / "freeze-after.txt")
    changed = {name: (version, after.get(name)) for name, version in before.items()
               if after.get(name) != version}
    assert changed == {}, f"installing perfdoctor changed these pins: {changed}"
    assert "perfdoctor" in after

    traces = tmp_path / "tests.db"
    with app_copy(env, tmp_path) as (app, variables):
        seed(env, python, app, variables)
        test_file = next(p.name for p in app.glob("test_*.py"))

        def pytest(*options: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(python), "-m", "pytest", *options, test_file],
                cwd=app, env=variables, capture_output=True, text=True, timeout=180,
            )

        if int((env.pin("pytest") or "0").split(".")[0]) < 7:
            # Too old for the plugin: the app's own test run goes on as before,
            # and asking for perfdoctor says why it cannot.
            plain = pytest()
            assert plain.returncode == 0, plain.stdout + plain.stderr
            asked = pytest("--perfdoctor")
            assert asked.returncode == 4, asked.stdout + asked.stderr
            assert "perfdoctor's pytest plugin needs pytest 7.0 or newer" in asked.stderr
            assert "Traceback" not in asked.stderr, asked.stderr
            return
        result = pytest("--perfdoctor", f"--perfdoctor-traces={traces}")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    path, line = n_plus_one_site(env, app)
    # The end-of-session report, analysed on the app's interpreter.
    assert f" n-plus-one-query in {test_file}::test_books: {path}:{line}" in out, out
    assert f"{test_file}::test_books_fixed:" not in out, out

    report = report_json(traces, cwd=app)
    [finding] = findings(report, "n-plus-one-query")
    assert finding["endpoint"] == f"{test_file}::test_books"
    assert_the_n_plus_one(env, app, finding)
    assert [f for f in report["findings"] if f["endpoint"].endswith("_fixed")] == []


def assert_the_n_plus_one(env: envs.Env, app: Path, finding: dict[str, Any]) -> None:
    """At the app's line that reads book.author, in the loop over the books, one
    query per book, and the fix in the app's ORM naming Book.author."""
    path, line = n_plus_one_site(env, app)
    assert (finding["location"]["path"], finding["location"]["line"]) == (path, line)
    evidence = finding["evidence"]
    assert (evidence["loop"]["path"], evidence["loop"]["line"]) == (path, line - 1)
    assert (evidence["count"], evidence["relation"]) == (6, "Book.author")
    assert expected_fix(env) in finding["fix"], finding["fix"]
