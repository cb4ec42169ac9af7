"""The bundled demo app, driven under capture exactly as ``perfdoctor audit`` does.

One real run (seed, serve in a child process under ``perfdoctor run``'s
bootstrap, HTTP requests, SIGTERM) feeds most tests; they check what reached
the trace store.
"""

from __future__ import annotations

import random
import socket
import sqlite3
import subprocess
import sys
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

import perfdoctor.demo
from perfdoctor import store
from perfdoctor.demo import DemoError, areas, driver
from perfdoctor.demo.driver import _Server, run_demo
from perfdoctor.demo.models import SIZES
from perfdoctor.demo.seed import ensure_seeded, generate, is_seeded
from perfdoctor.errors import PerfdoctorError
from perfdoctor.model import Trace
from tests.demo.support import DEMO_ROUNDS, SharedDemo

ROUNDS = DEMO_ROUNDS
APP_PY = Path(perfdoctor.demo.__file__).resolve().parent / "app.py"
ENDPOINTS = (
    "GET /articles",
    "GET /articles/fixed",
    "GET /authors/{author_id}",
    "GET /authors/{author_id}/fixed",
    "GET /stats/top-commenters",
    "GET /stats/top-commenters/fixed",
)

# The blog's endpoints above, and those of the demo's other areas.
EVERY_ENDPOINT = len(driver.ENDPOINTS) + len(areas.endpoints())


@dataclass
class DemoRun:
    traces: list[Trace]
    database: Path
    store_path: Path
    stdout: str
    stderr: str

    def named(self, name: str) -> list[Trace]:
        found = [t for t in self.traces if t.name == name]
        assert found, f"no trace named {name!r}; got {sorted({t.name for t in self.traces})}"
        return found


@pytest.fixture(scope="module")
def demo(shared_demo: SharedDemo) -> DemoRun:
    return DemoRun(
        shared_demo.traces(), shared_demo.database, shared_demo.traces_path,
        shared_demo.stdout, shared_demo.stderr,
    )


def line_of(marker: str, source: Path = APP_PY) -> int:
    lines = source.read_text(encoding="utf-8").splitlines()
    matches = [number for number, text in enumerate(lines, start=1) if marker in text]
    assert len(matches) == 1, f"{marker!r} should be on exactly one line of {source}"
    return matches[0]


def test_every_endpoint_is_captured_under_its_route_template(demo: DemoRun) -> None:
    requests = Counter(t.name for t in demo.traces if t.kind == "http")
    assert {name: requests[name] for name in ENDPOINTS} == dict.fromkeys(ENDPOINTS, ROUNDS)
    assert sum(requests.values()) == ROUNDS * EVERY_ENDPOINT
    assert all(t.status == 200 for t in demo.traces if t.kind == "http")


def test_the_article_list_has_an_n_plus_one_at_the_loop_line(demo: DemoRun) -> None:
    loop_line = line_of("author, tags = article.author, article.tags")
    for trace in demo.named("GET /articles"):
        at_loop = [
            span
            for span in trace.db_spans()
            if span.location is not None
            and Path(span.location.path) == APP_PY
            and span.location.line == loop_line
        ]
        fingerprint, repeats = Counter(s.fingerprint for s in at_loop).most_common(1)[0]
        assert repeats >= 30, Counter(s.fingerprint for s in at_loop)
        assert fingerprint is not None
        assert {s.framework for s in at_loop} == {"sqlalchemy"}
        assert {s.location.function for s in at_loop if s.location} == {"list_articles"}


def test_the_fixed_article_list_runs_a_few_queries(demo: DemoRun) -> None:
    for trace in demo.named("GET /articles/fixed"):
        assert 1 <= len(trace.db_spans()) <= 3


def identical_repeats(trace: Trace) -> int:
    pairs = Counter((s.fingerprint, s.params_digest) for s in trace.db_spans())
    return max(pairs.values())


def test_the_author_page_repeats_an_identical_query(demo: DemoRun) -> None:
    for trace in demo.named("GET /authors/{author_id}"):
        assert all(s.params_digest is not None for s in trace.db_spans())
        assert identical_repeats(trace) >= 3
    for trace in demo.named("GET /authors/{author_id}/fixed"):
        assert identical_repeats(trace) == 1


def test_the_top_commenters_page_runs_a_slow_query(demo: DemoRun) -> None:
    for trace in demo.named("GET /stats/top-commenters"):
        (span,) = trace.db_spans()
        assert span.duration_ms > 100.0
        assert span.location is not None and span.location.function == "top_commenters"
    for trace in demo.named("GET /stats/top-commenters/fixed"):
        assert len(trace.db_spans()) == 1


def test_quiet_mode_prints_nothing(demo: DemoRun) -> None:
    assert demo.stdout == ""
    assert demo.stderr == ""


def test_the_database_is_seeded_once_with_the_planned_sizes(demo: DemoRun) -> None:
    assert is_seeded(demo.database)
    assert ensure_seeded(demo.database) is False
    with closing(sqlite3.connect(demo.database)) as conn:
        for table, expected in SIZES.items():
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == expected
    assert not list(demo.database.parent.glob(".*.seeding"))


def test_seed_data_is_deterministic() -> None:
    first, second = generate(random.Random(42)), generate(random.Random(42))
    assert first == second
    assert {name: len(rows) for name, rows in first.items() if name in SIZES} == SIZES


def test_progress_goes_to_stderr_and_stdout_stays_clean(
    demo: DemoRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    traces = tmp_path / "traces.db"
    run_demo(traces, rounds=1, database=demo.database)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"Captured {EVERY_ENDPOINT} requests" in captured.err
    assert store.count_traces(traces) >= EVERY_ENDPOINT


def test_a_database_path_that_is_a_directory_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(PerfdoctorError) as caught:
        run_demo(tmp_path / "traces.db", rounds=1, quiet=True, database=tmp_path)
    assert "is a directory" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_server_that_dies_on_start_is_reported_with_its_output(tmp_path: Path) -> None:
    server = _Server(tmp_path / "traces.db", tmp_path, tmp_path)
    with pytest.raises(DemoError) as caught:
        server.wait_until_listening()
    with pytest.raises(DemoError):
        server.stop()  # already exited, with code 2: closes its log, reports again
    message = str(caught.value)
    assert "exited with code 2" in message
    assert "server output:" in message and "is a directory" in message
    assert "\n" not in message


def test_serve_reports_a_busy_port_without_a_traceback(demo: DemoRun) -> None:
    with closing(socket.socket()) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "perfdoctor.demo.serve",
                "--db",
                str(demo.database),
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    # werkzeug itself explains a busy port and exits with 1.
    assert result.returncode != 0
    assert "in use" in result.stderr
    assert "Traceback" not in result.stderr
