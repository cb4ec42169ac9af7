"""`perfdoctor bench` with two sides: before and after interleaved in one run, from two
apps, two servers, or the app at an older git commit; and `perfdoctor compare` of the
saved result."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from tests.conftest import run_perfdoctor, serving

ROOT = Path(__file__).resolve().parents[2]
APPS = "tests.bench.ab_apps"


def perfdoctor(
    *args: str, cwd: Path = ROOT, pythonpath: str = str(ROOT)
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": pythonpath}
    return run_perfdoctor(*args, cwd=cwd, env=env, timeout=180)


def _only(data: dict[str, Any]) -> dict[str, Any]:
    [row] = data["endpoints"]
    return row


def test_a_slower_after_is_a_regression_with_its_exact_query_change(tmp_path: Path) -> None:
    out = tmp_path / "ab.json"
    done = perfdoctor(
        "bench", "--app", f"{APPS}:before", "--app", f"{APPS}:after",
        "--endpoint", "GET /articles", "--requests", "30", "--rounds", "6", "--warmup", "2",
        "--output", str(out), "--format", "json",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    compared = json.loads(done.stdout)
    row = _only(compared)
    assert compared["method"] == "interleaved"
    assert "ABBA" in compared["method_text"]
    assert row["verdict"] == "slower", row
    assert row["latency"]["units"] == {"before": 6, "after": 6, "diff": 0}
    # Exact counts need no statistics: 1 query per request, then 31.
    assert row["per_request"]["queries"] == {
        "before": 1.0, "after": 31.0, "changed": True, "varies": False,
    }  # fmt: skip
    assert "GET /articles 1 → 31 queries per request" in compared["regressions"]
    assert "GET /articles slower" in compared["regressions"]
    assert "n-plus-one-query" in {f["id"] for f in compared["findings"]["appeared"]}

    saved = json.loads(out.read_text())
    assert saved["mode"] == "interleaved"
    assert saved["order"][:4] == ["before", "after", "after", "before"]
    for side in ("before", "after"):
        assert saved[side]["endpoints"]["GET /articles"]["round_sizes"] == [5] * 6

    # The saved run compares again on its own, to the same verdict.
    again = perfdoctor("compare", str(out), "--format", "json")
    assert again.returncode == 1
    assert _only(json.loads(again.stdout))["verdict"] == "slower"
    text = perfdoctor("compare", str(out))
    assert "method: interleaved rounds (ABBA)" in text.stdout
    assert "regression: GET /articles slower; GET /articles 1 → 31 queries" in text.stdout
    markdown = perfdoctor("compare", str(out), "--format", "markdown")
    assert "Method: interleaved rounds (ABBA)" in markdown.stdout
    assert "| `GET /articles` | ❌ slower |" in markdown.stdout


def test_the_same_code_twice_has_the_same_exact_counts(tmp_path: Path) -> None:
    done = perfdoctor(
        "bench", "--app", f"{APPS}:before", "--app", f"{APPS}:before_again",
        "--endpoint", "GET /articles", "--requests", "20", "--rounds", "4", "--warmup", "2",
        "--format", "json",
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    compared = json.loads(done.stdout)
    row = _only(compared)
    for name in ("queries", "rows", "bytes"):
        assert row["per_request"][name]["changed"] is False, name
    assert not any("queries per request" in r for r in compared["regressions"])
    # Whatever the latency said, it said it with the noise it measured.
    assert row["latency"]["noise_pct"] > 0
    assert row["latency"]["min_detectable_change_pct"] >= compared["min_change_pct"]


def test_one_run_is_refused_alone_and_an_interleaved_one_in_a_pair(tmp_path: Path) -> None:
    single = tmp_path / "one.json"
    done = perfdoctor(
        "bench", "--app", f"{APPS}:before", "--endpoint", "GET /articles",
        "--requests", "6", "--rounds", "3", "--output", str(single),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    alone = perfdoctor("compare", str(single))
    assert alone.returncode == 2
    assert "is one run: give the run to compare it with" in alone.stderr


@pytest.fixture
def two_servers() -> Iterator[tuple[str, str]]:
    from tests.bench import ab_apps

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    with (
        serving(make_server("127.0.0.1", 0, ab_apps.before, handler_class=Quiet)) as before,
        serving(make_server("127.0.0.1", 0, ab_apps.after, handler_class=Quiet)) as after,
    ):
        yield before, after


def test_two_servers_over_http(two_servers: tuple[str, str]) -> None:
    before, after = two_servers
    done = perfdoctor(
        "bench", "--url", before, "--url", after, "--endpoint", "GET /articles",
        "--requests", "12", "--rounds", "4", "--warmup", "1", "--concurrency", "1",
        "--format", "json",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    row = _only(json.loads(done.stdout))
    assert row["verdict"] == "slower"
    # Over HTTP nothing is captured, but the bodies are counted: the same JSON.
    assert row["per_request"]["bytes"]["changed"] is False
    assert "queries" not in row["per_request"]


APP_BEFORE = """
import sqlite3

def app(environ, start_response):
    conn = sqlite3.connect("shop.db")
    rows = conn.execute("SELECT id, name FROM product ORDER BY id").fetchall()
    conn.close()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [repr(rows).encode()]
"""

APP_AFTER = """
import sqlite3
import time

def app(environ, start_response):
    conn = sqlite3.connect("shop.db")
    ids = [row[0] for row in conn.execute("SELECT id FROM product ORDER BY id")]
    rows = [conn.execute("SELECT id, name FROM product WHERE id = ?", (i,)).fetchone() for i in ids]
    conn.close()
    time.sleep(0.02)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [repr(rows).encode()]
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def test_baseline_ref_serves_the_old_commit_beside_the_work_tree(tmp_path: Path) -> None:
    import sqlite3

    repo = tmp_path / "shop"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "shop_app.py").write_text(APP_BEFORE)
    (repo / ".gitignore").write_text("*.db\n")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "fast")
    (repo / "shop_app.py").write_text(APP_AFTER)  # the change under test, not committed
    # The data is not in git: the old code must still find it.
    conn = sqlite3.connect(repo / "shop.db")
    conn.execute("CREATE TABLE product (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO product VALUES (?, ?)", [(i, f"p{i}") for i in range(12)])
    conn.commit()
    conn.close()
    status = _git(repo, "status", "--porcelain")

    done = perfdoctor(
        "bench", "--app", "shop_app:app", "--baseline-ref", "HEAD", "--endpoint", "GET /",
        "--requests", "12", "--rounds", "4", "--warmup", "1", "--format", "json",
        cwd=repo,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    row = _only(json.loads(done.stdout))
    assert row["verdict"] == "slower"
    assert row["per_request"]["queries"]["before"] == 1.0
    assert row["per_request"]["queries"]["after"] == 13.0
    # The repository is as it was: no worktree, no stash, no change.
    assert _git(repo, "status", "--porcelain") == status
    assert _git(repo, "worktree", "list").count("\n") == 1


def test_a_baseline_ref_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    done = perfdoctor(
        "bench", "--app", f"{APPS}:before", "--baseline-ref", "no-such-ref-xyz",
        "--endpoint", "GET /articles", "--requests", "3",
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("perfdoctor: error: --baseline-ref"), lines


def test_more_failed_requests_are_a_regression_even_when_faster() -> None:
    """A 500 answers quickly: the after side is 'faster', and it is a regression."""
    done = perfdoctor(
        "bench", "--app", f"{APPS}:before", "--app", f"{APPS}:failing",
        "--endpoint", "GET /articles", "--requests", "12", "--rounds", "3", "--warmup", "1",
        "--format", "json",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    compared = json.loads(done.stdout)
    # Two requests (the probe and the warm-up) and the first measured one succeed.
    assert "GET /articles errors 0 → 11 of 12 → 12 requests" in compared["regressions"]


def test_an_asgi_app_that_returns_on_lifespan_is_benched() -> None:
    done = perfdoctor(
        "bench", "--app", f"{APPS}:asgi_returns", "--endpoint", "GET /articles",
        "--requests", "4", "--rounds", "2", "--warmup", "0", "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["endpoints"]["GET /articles"]["errors"] == 0


SRC_APP = """
import sqlite3

def app(environ, start_response):
    conn = sqlite3.connect("shop.db")
    rows = conn.execute("SELECT id, name FROM product ORDER BY id").fetchall()
    {extra}
    conn.close()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [repr(rows).encode()]
"""


def test_baseline_ref_of_a_src_layout_imports_the_old_code(tmp_path: Path) -> None:
    """With the package under src/ on the path (what `pip install -e .` does), the old
    side must import src/ of the commit, not of the work tree."""
    import sqlite3

    repo = tmp_path / "srcshop"
    (repo / "src" / "srcshop_pkg").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "src" / "srcshop_pkg" / "__init__.py").write_text("")
    web = repo / "src" / "srcshop_pkg" / "web.py"
    web.write_text(SRC_APP.format(extra="pass"))
    (repo / "pyproject.toml").write_text('[project]\nname = "srcshop"\nversion = "0"\n')
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one")
    web.write_text(SRC_APP.format(extra='conn.execute("SELECT count(*) FROM product").fetchone()'))
    conn = sqlite3.connect(repo / "shop.db")
    conn.execute("CREATE TABLE product (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    env_path = f"{repo / 'src'}{os.pathsep}{ROOT}"
    done = perfdoctor(
        "bench", "--app", "srcshop_pkg.web:app", "--baseline-ref", "HEAD", "--endpoint", "GET /",
        "--requests", "6", "--rounds", "3", "--warmup", "1", "--format", "json",
        cwd=repo, pythonpath=env_path,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    queries = _only(json.loads(done.stdout))["per_request"]["queries"]
    assert (queries["before"], queries["after"]) == (1.0, 2.0)


LIB_DB = """
import sqlite3


def page():
    conn = sqlite3.connect("shop.db")
    ids = [row[0] for row in conn.execute("SELECT id FROM product ORDER BY id")]
    rows = [conn.execute("SELECT name FROM product WHERE id = ?", (i,)).fetchone() for i in ids]
    conn.close()
    return rows
"""

SUB_APP = """{header}
from shoplib.db import page


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [repr(page()).encode()]
"""


def test_baseline_ref_from_a_subdirectory_keeps_findings_where_they_are(tmp_path: Path) -> None:
    """Run from sub/, the app imports ../shoplib: an unchanged N+1 there is the same finding
    on both sides (not one disappeared from a temporary folder and one appeared)."""
    import sqlite3

    repo = tmp_path / "mono"
    (repo / "shoplib").mkdir(parents=True)
    (repo / "sub").mkdir()
    _git(repo, "init", "-q")
    (repo / "shoplib" / "__init__.py").write_text("")
    (repo / "shoplib" / "db.py").write_text(LIB_DB)
    (repo / "sub" / "subweb.py").write_text(SUB_APP.format(header=""))
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one")
    # A comment added at the top of the app: the N+1 below is unchanged.
    (repo / "sub" / "subweb.py").write_text(SUB_APP.format(header="# a comment\n"))
    conn = sqlite3.connect(repo / "sub" / "shop.db")
    conn.execute("CREATE TABLE product (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO product VALUES (?, ?)", [(i, f"p{i}") for i in range(12)])
    conn.commit()
    conn.close()
    done = perfdoctor(
        "bench", "--app", "subweb:app", "--baseline-ref", "HEAD", "--endpoint", "GET /",
        "--requests", "6", "--rounds", "3", "--warmup", "1", "--format", "json",
        "--output", str(tmp_path / "ab.json"),
        cwd=repo / "sub", pythonpath=f"{repo}{os.pathsep}{ROOT}",
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    compared = json.loads(done.stdout)
    saved = json.loads((tmp_path / "ab.json").read_text())
    where = {
        side: [
            f["location"]["path"] for f in saved[side]["findings"] if f["id"] == "n-plus-one-query"
        ]
        for side in ("before", "after")
    }
    assert where["before"] == where["after"] == [str(repo / "shoplib" / "db.py")]
    assert compared["findings"] == {"appeared": [], "disappeared": []}
    assert not any("n-plus-one" in r for r in compared["regressions"])
