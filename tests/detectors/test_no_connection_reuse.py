"""no-connection-reuse: one finding per cause, however many endpoints show it."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.model import Finding
from perfdoctor.settings import Settings
from tests.inprocess import capturing, load

REQUESTS = 4


def _count_authors(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:  # connects per request: the shared helper
        return int(conn.execute(sa.text("SELECT count(*) FROM author")).scalar_one())


def _count_articles(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:  # connects per request: its own line
        return int(conn.execute(sa.text("SELECT count(*) FROM article")).scalar_one())


def _found(tmp_path: Path) -> list[Finding]:
    url = f"sqlite:///{tmp_path / 'blog.sqlite'}"
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text("CREATE TABLE author (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("CREATE TABLE article (id INTEGER PRIMARY KEY)"))
    traces = tmp_path / "t.db"
    with capturing(traces):
        for _ in range(REQUESTS):
            for name in ("GET /authors", "GET /dashboard"):
                with perfdoctor.trace(name, "http"):
                    _count_authors(url)
            with perfdoctor.trace("GET /articles", "http"):
                _count_articles(url)
    return [f for f in analyze(load(traces), Settings()).findings if f.id == "no-connection-reuse"]


def _line(text: str) -> int:
    lines = Path(__file__).read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if text in line)


def test_endpoints_connecting_from_one_line_make_one_finding(tmp_path: Path) -> None:
    found = _found(tmp_path)
    by_line = {f.location.line: f for f in found if f.location is not None}
    assert sorted(by_line) == sorted(
        [
            _line("# connects per request: the shared helper"),
            _line("# connects per request: its own"),
        ]
    )
    shared = by_line[_line("# connects per request: the shared helper")]
    endpoints = {shared.endpoint} | {e["endpoint"] for e in shared.evidence["also_on"]}
    assert endpoints == {"GET /authors", "GET /dashboard"}
    assert shared.evidence["requests_with_connect"] == 2 * REQUESTS
    assert shared.evidence["requests_affected"] == 2 * REQUESTS
    assert shared.title.startswith(
        f"No connection reuse: {2 * REQUESTS} of {2 * REQUESTS} requests on 2 endpoints"
    )
    assert shared.fix.startswith("Create the engine")
    assert "PgBouncer" not in shared.fix  # SQLite: no server to put a pooler in front of
    # The other line is a cause of its own: a finding of its own, on its endpoint only.
    alone = by_line[_line("# connects per request: its own")]
    assert alone.endpoint == "GET /articles"
    assert "also_on" not in alone.evidence
    assert alone.evidence["requests_with_connect"] == REQUESTS


def test_an_engine_made_once_is_not_found(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'blog.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE author (id INTEGER PRIMARY KEY)"))
    traces = tmp_path / "t.db"
    with capturing(traces):
        for _ in range(REQUESTS):
            for name in ("GET /authors", "GET /dashboard"):
                with perfdoctor.trace(name, "http"), engine.connect() as conn:
                    conn.execute(sa.text("SELECT count(*) FROM author")).scalar_one()
    assert not [
        f for f in analyze(load(traces), Settings()).findings if f.id == "no-connection-reuse"
    ]


def test_a_sampled_run_counts_the_requests_of_every_endpoint_of_the_cause(
    tmp_path: Path,
) -> None:
    # healthchecks under `run --sample 0.1`: the one finding for three pages said
    # "seen in 33 of ~100 requests", the requests of its first page only.
    _found(tmp_path)
    dropped = 36  # per endpoint, besides the REQUESTS kept
    counts = {name: (dropped, 0) for name in ("GET /authors", "GET /dashboard", "GET /articles")}
    analysis = analyze(load(tmp_path / "t.db"), Settings(), sample_counts=counts)
    shared = next(
        f for f in analysis.findings if f.id == "no-connection-reuse" and "also_on" in f.evidence
    )
    seen = 2 * (dropped + REQUESTS)
    assert shared.evidence["sampled"] == f"seen in {2 * REQUESTS} of ~{seen} requests"
