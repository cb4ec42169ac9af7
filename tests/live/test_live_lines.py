"""``perfdoctor run --live``: the Django test site served by runserver, driven over HTTP,
and the lines ``perfdoctor run`` writes on stderr read back."""

from __future__ import annotations

import math
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.capture.conftest import PAGE_SIZE, SITE, DjangoSite, views_line
from tests.conftest import (
    findings,
    free_port,
    get,
    perfdoctor_cmd,
    report_json,
    run_perfdoctor,
    serve_under_perfdoctor,
    wait_http,
)
from tests.live.support import ANSI, parse, query_counts, raw_request_lines, stored_requests

LIST = "/articles/"
FIXED = "/articles/fixed/"
DASHBOARD = "/authors/{pk}/dashboard/"


def runserver(port: int, site: Path = SITE) -> list[str]:
    return [sys.executable, str(site / "manage.py"), "runserver", "--noreload", f"127.0.0.1:{port}"]


def serve_output(
    site: DjangoSite, paths: list[str], options: tuple[str, ...] = ("--live",),
    cwd: Path = SITE, env: dict[str, str] | None = None,
) -> str:
    """Run the site under ``perfdoctor run OPTIONS``, GET each path, stop it: its output."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serve_under_perfdoctor(
        runserver(port), site.traces, f"{base}/health/", cwd=cwd, env=env or site.env,
        options=options,
    ) as process:
        for path in paths:
            status, body = get(base + path)
            assert status in (200, 404), (path, status, body[:500])
    output: str = process.captured_output  # type: ignore[attr-defined]
    return output


def with_settings(tmp_path: Path, **settings: object) -> Path:
    """A project folder whose pyproject.toml sets ``settings``: the run's working directory."""
    folder = tmp_path / "project"
    folder.mkdir()
    table = "\n".join(f"{k} = {v!r}" for k, v in settings.items())
    (folder / "pyproject.toml").write_text(f"[tool.perfdoctor]\n{table}\n", encoding="utf-8")
    return folder


def test_a_line_per_request_with_the_n_plus_one_and_its_line_of_code(
    django_sqlite: DjangoSite,
) -> None:
    output = serve_output(django_sqlite, [LIST, FIXED, "/authors/2/dashboard/", "/nope/"])
    lines = parse(output)

    (n_plus_one,) = lines.of(LIST)
    assert n_plus_one["method"] == "GET" and n_plus_one["status"] == "200"
    (stored,) = stored_requests(django_sqlite.traces, f"GET {LIST}")
    # The count is the queries the view ran: its page, then an author and the tags per article.
    assert int(n_plus_one["queries"]) == len(stored.db_spans()) >= 1 + 2 * PAGE_SIZE
    author_line = views_line("article_list", "article.author.name")
    tags_line = views_line("article_list", "article.tags.all()")
    assert f"N+1 ×{PAGE_SIZE} blog/views.py:{author_line}" in n_plus_one["marks"], output
    assert f"N+1 ×{PAGE_SIZE} blog/views.py:{tags_line}" in n_plus_one["marks"], output

    # The fixed twin: the same page in a few queries, and nothing to say about it.
    (fixed,) = lines.of(FIXED)
    assert fixed["status"] == "200" and fixed["marks"] is None, output
    (stored_fixed,) = stored_requests(django_sqlite.traces, f"GET {FIXED}")
    assert int(fixed["queries"]) == len(stored_fixed.db_spans()) < 10

    # The same finding, at the same line, as `perfdoctor report` gives.
    (dashboard,) = lines.of(DASHBOARD)
    [duplicate] = findings(report_json(django_sqlite.traces, cwd=SITE), "duplicate-query")
    where = duplicate["location"]
    assert where["function"] == "author_dashboard"
    assert dashboard["marks"] == f"duplicate ×3 {where['path']}:{where['line']}", output

    (unmatched,) = lines.of("<unmatched>")
    assert unmatched["status"] == "404" and unmatched["marks"] is None


def test_no_lines_without_a_terminal_unless_asked(django_sqlite: DjangoSite) -> None:
    env = {k: v for k, v in django_sqlite.env.items() if k != "CI"}
    output = serve_output(django_sqlite, [LIST, FIXED], options=(), env=env)
    lines = parse(output)
    assert not lines.requests and not lines.repeats, output
    # The requests were captured all the same.
    assert stored_requests(django_sqlite.traces, f"GET {LIST}")


def test_identical_lines_collapse_into_a_count(django_sqlite: DjangoSite, tmp_path: Path) -> None:
    # A window longer than the test: every repeat falls in the first one.
    project = with_settings(tmp_path, live_repeat_window_s=3600.0)
    output = serve_output(django_sqlite, [FIXED] * 40 + [LIST], cwd=project)
    lines = parse(output)
    assert len(lines.of(FIXED)) == 3, output  # live_repeat_lines
    assert lines.repeated(FIXED) == 37, output
    # A different line is not held back by the repeats before it.
    assert len(lines.of(LIST)) == 1, output
    assert lines.of(LIST)[0]["marks"].startswith(f"N+1 ×{PAGE_SIZE} ")


def test_at_most_n_lines_a_second_then_a_count(django_sqlite: DjangoSite, tmp_path: Path) -> None:
    project = with_settings(tmp_path, live_max_lines_per_s=3, live_repeat_lines=1000)
    requests = 60
    started = time.monotonic()
    output = serve_output(django_sqlite, [FIXED] * requests, cwd=project)
    seconds = time.monotonic() - started
    lines = parse(output)
    # Each second of the run (and the final flush) shows at most 3 request lines
    # (the readiness probe's /health/ among them).
    shown = len(lines.requests)
    assert lines.of(FIXED) and shown <= 3 * (math.ceil(seconds) + 2), (shown, seconds, output)
    assert lines.overflows, output
    # Every request is a line or is counted in a "… N more requests" line.
    assert lines.accounted(FIXED) == requests, output
    assert query_counts(stored_requests(django_sqlite.traces, f"GET {FIXED}"))


def _pty_output(site: DjangoSite, options: list[str], ci: bool, columns: int) -> str:
    """Run the site under ``perfdoctor run`` with stderr (and stdout) on a terminal."""
    port = free_port()
    env = {k: v for k, v in site.env.items() if k != "CI"}
    env.update(TERM="xterm-256color", COLUMNS=str(columns))
    if ci:
        env["CI"] = "1"
    master, slave = pty.openpty()
    process = subprocess.Popen(
        perfdoctor_cmd("run", *options, "--traces", str(site.traces), "--", *runserver(port)),
        cwd=SITE, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    chunks: list[bytes] = []

    def drain(until: float) -> None:
        while time.monotonic() < until:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the terminal closed: every process ended
                    return
                if not data:
                    return
                chunks.append(data)

    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            drain(time.monotonic() + 0.2)
            try:
                wait_http(f"{base}/health/", timeout=0.5)
                break
            except AssertionError:
                continue
        for path in (LIST, FIXED):
            assert get(base + path)[0] == 200
        drain(time.monotonic() + 1.0)
    finally:
        process.terminate()
        end = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < end:
            drain(time.monotonic() + 0.2)
        if process.poll() is None:
            os.killpg(process.pid, 9)
        process.wait()
        drain(time.monotonic() + 0.5)
        os.close(master)
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.mark.parametrize(
    ("options", "ci", "shown", "columns"),
    [
        pytest.param([], False, True, 120, id="terminal"),
        pytest.param([], False, True, 80, id="terminal-80-columns"),
        pytest.param([], True, False, 120, id="terminal-in-ci"),
        pytest.param(["--live"], True, True, 120, id="terminal-in-ci-live"),
        pytest.param(["--no-live"], False, False, 120, id="terminal-no-live"),
    ],
)
def test_on_a_terminal_unless_in_ci_or_turned_off(
    django_sqlite: DjangoSite, options: list[str], ci: bool, shown: bool, columns: int
) -> None:
    output = _pty_output(django_sqlite, options, ci, columns)
    lines = parse(output)
    assert bool(lines.of(LIST)) == shown, output
    assert bool(lines.of(FIXED)) == shown, output
    if shown:
        # A terminal gets colour (the N+1 in red), and no line is wider than it.
        raw = raw_request_lines(output)
        assert all("\x1b[" in line for line in raw), raw
        assert all(len(ANSI.sub("", line)) < columns for line in raw), raw
        (listing,) = lines.of(LIST)
        assert listing["marks"].startswith(f"N+1 ×{PAGE_SIZE} blog/views.py:"), output


def test_a_limit_that_makes_no_sense_is_one_line_and_exit_2(tmp_path: Path) -> None:
    project = with_settings(tmp_path, live_max_lines_per_s=0)
    result = run_perfdoctor(
        "run", "--live", "--traces", str(tmp_path / "traces.db"), "--", sys.executable, "-c", "pass",
        cwd=project,
    )
    assert result.returncode == 2, result
    assert result.stderr.strip().splitlines() == [
        "perfdoctor: error: live_max_lines_per_s = 0: expected a whole number, 1 or more"
    ]


def test_an_ignored_finding_is_not_on_the_line(django_sqlite: DjangoSite, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[[tool.perfdoctor.ignore]]\nid = "n-plus-one-query"\npath = "blog/views.py"\n'
        'reason = "the page is capped at 20 rows"\n',
        encoding="utf-8",
    )
    output = serve_output(django_sqlite, [LIST, "/authors/2/dashboard/"], cwd=project)
    lines = parse(output)
    (listing,) = lines.of(LIST)
    assert listing["marks"] is None, output
    (dashboard,) = lines.of(DASHBOARD)
    assert dashboard["marks"].startswith("duplicate ×3 "), output  # another detector's: kept
