"""The cache detectors' memory does not grow with the traces: same findings.

cache-shared-key keeps its cache writes and suspicious hits in a temporary
database (they can only be put in time order at the end); cache-candidate its
writes' times past a few thousand, and at most ``cache_candidate_max_reads``
reads seen once.  What is checked: the findings with the database are the ones
without it (a database that cannot be opened, or fills up half-way: the rows
stay in memory), and the cap forgets only reads seen once, and only past it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from perfdoctor.analysis.analyze import analyze
from perfdoctor.detectors import all_detectors
from perfdoctor.detectors.base import Session
from perfdoctor.fingerprint import normalize
from perfdoctor.model import Finding, Location, Span, Trace
from perfdoctor.settings import Settings

APP = "/srv/shop"
READ_PROFILE = Location(f"{APP}/views.py", 30, "profile")
WRITE_PROFILE = Location(f"{APP}/views.py", 34, "profile")
READ_MENU = Location(f"{APP}/menu.py", 8, "menu")
REPORT = Location(f"{APP}/reports.py", 12, "build")
SAVE = Location(f"{APP}/orders.py", 40, "save")

Opener = Callable[[], sqlite3.Connection]


def _session(detector_id: str, settings: Settings) -> Session:
    [detector] = [d for d in all_detectors() if d.id == detector_id]
    return detector.session(settings)


def _found(
    detector_id: str,
    traces: Sequence[Trace],
    settings: Settings | None = None,
    opener: Opener | None = None,
    write_times_in_memory: int | None = None,
    chunk: int = 50,
) -> tuple[list[Finding], Any]:
    """The findings of one detector fed ``traces`` chunk by chunk, and its session."""
    session: Any = _session(detector_id, settings or Settings())
    if opener is not None:
        session.spill.opener = opener
    if write_times_in_memory is not None:
        session.write_times_in_memory = write_times_in_memory
    for start in range(0, len(traces), chunk):
        session.feed(traces[start : start + chunk])
    return session.findings(), session


def _unopenable(tmp_path: Path) -> Opener:
    """A database SQLite cannot open (its folder does not exist)."""
    return lambda: sqlite3.connect(tmp_path / "missing" / "spill.db")


def _filling(pages: int) -> Opener:
    """A database that is full after ``pages`` pages, as on a full disk."""

    def opener() -> sqlite3.Connection:
        conn = sqlite3.connect("", isolation_level=None)
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    return opener


def _as_data(findings: list[Finding]) -> list[tuple[object, ...]]:
    return [
        (f.id, f.title, f.endpoint, f.location, f.evidence, f.fingerprint, f.severity)
        for f in findings
    ]


# --- cache-shared-key ---------------------------------------------------------


def _cache(
    op: str, key: str, digest: str, value: str | None, at: float, where: Location, **attrs: Any
) -> Span:
    return Span(
        kind="cache",
        start_ms=at,
        duration_ms=0.2,
        location=where,
        stack=[where],
        system="redis",
        attrs={"op": op, "key": key, "key_digest": digest, "value_digest": value, **attrs},
    )


def _page(i: int, user: str, spans: list[Span], name: str = "GET /me") -> Trace:
    return Trace(
        id=f"t{i:05d}",
        name=name,
        kind="http",
        started_at=1_700_000_000.0 + i * 0.5,
        duration_ms=20.0,
        status=200,
        spans=spans,
        attrs={"user": user, "authenticated": True},
    )


def _profile_pages(count: int) -> list[Trace]:
    """``GET /me`` caches the profile under a key with no user part: a request
    that misses writes its user's profile, the next ones read it back, whoever
    they are.  A cached menu (the same for everyone) is read alongside, and a
    per-user key too.  Each user writes a different profile."""
    traces = []
    for i in range(count):
        user = f"user{i % 7}"
        spans = [
            _cache("get", "menu", "menu", "menu-v1", 1.0, READ_MENU, hit=True),
            _cache("get", "cart:{}", f"cart:{user}", f"cart-{user}", 1.5, READ_MENU, hit=True),
        ]
        if i % 5 == 0:
            spans.append(_cache("get", "profile", "profile", None, 2.0, READ_PROFILE, hit=False))
            spans.append(_cache("set", "profile", "profile", f"profile-{user}", 3.0, WRITE_PROFILE))
        else:
            writer = f"user{(i - i % 5) % 7}"
            spans.append(
                _cache(
                    "get", "profile", "profile", f"profile-{writer}", 2.0, READ_PROFILE, hit=True
                )
            )
        traces.append(_page(i, user, spans))
    # The endpoints' chunks come one endpoint after another, not in time order.
    return traces[1::2] + traces[::2]


def test_shared_key_gives_the_same_leak_with_its_rows_on_disk_or_in_memory(
    tmp_path: Path,
) -> None:
    traces = _profile_pages(3000)
    on_disk, session = _found("cache-shared-key", traces)
    assert session.spill.used and not session.spill.failed
    assert session.rows == []  # nothing of the traffic left in memory
    in_memory, session = _found("cache-shared-key", traces, opener=_unopenable(tmp_path))
    assert session.spill.failed and not session.spill.used
    assert _as_data(on_disk) == _as_data(in_memory)
    [finding] = on_disk
    assert finding.location == READ_PROFILE
    evidence = finding.evidence
    assert evidence["key"] == "profile"
    assert evidence["users"] == 7
    # Every read but those in the writer's own request or by the writer's user.
    leaked = [i for i in range(3000) if i % 5 and (i - i % 5) % 7 != i % 7]
    assert evidence["reads_of_another_users_value"] == len(leaked)
    assert evidence["requests_affected"] == len(leaked)
    assert evidence["write_sites"] == [f"{APP}/views.py:34"]
    assert evidence["writer_endpoints"] == ["GET /me"]


@pytest.mark.parametrize("pages", [2, 4, 8, 16])
def test_shared_key_whose_database_fills_up_half_way_keeps_its_rows(pages: int) -> None:
    traces = _profile_pages(3000)
    expected, _ = _found("cache-shared-key", traces)
    found, session = _found("cache-shared-key", traces, opener=_filling(pages))
    assert session.spill.failed
    assert _as_data(found) == _as_data(expected)


def test_shared_key_on_disk_finds_nothing_where_each_user_has_their_own_key() -> None:
    traces = []
    for i in range(2000):
        user = f"user{i % 5}"
        op = "set" if i < 5 else "get"
        traces.append(
            _page(
                i,
                user,
                [
                    _cache(
                        op,
                        "profile:{}",
                        f"profile:{user}",
                        f"p-{user}",
                        1.0,
                        READ_PROFILE,
                        hit=True,
                    )
                ],
            )
        )
    found, session = _found("cache-shared-key", traces)
    assert session.spill.used
    assert found == []


def test_shared_key_counts_a_value_users_wrote_differently_the_same_on_disk(
    tmp_path: Path,
) -> None:
    """A key that names no personal data leaks only if users wrote different
    values under it: those values are read back from the database."""

    def pages(same_value: bool) -> list[Trace]:
        traces = []
        for i in range(600):
            user = f"user{i % 3}"
            if i % 4 == 0:
                value = "v" if same_value else f"v-{user}"
                span = _cache("set", "widget", "widget", value, 1.0, WRITE_PROFILE)
            else:
                writer = f"user{(i - i % 4) % 3}"
                value = "v" if same_value else f"v-{writer}"
                span = _cache("get", "widget", "widget", value, 1.0, READ_MENU, hit=True)
            traces.append(_page(i, user, [span], name="GET /widget"))
        return traces

    for same_value, expected in ((True, 0), (False, 1)):
        on_disk, session = _found("cache-shared-key", pages(same_value))
        assert session.spill.used
        in_memory, _ = _found("cache-shared-key", pages(same_value), opener=_unopenable(tmp_path))
        assert len(on_disk) == expected
        assert _as_data(on_disk) == _as_data(in_memory)


# --- cache-candidate: the writes' times ---------------------------------------------


def _db(sql: str, at: float, ms: float, where: Location, params: str) -> Span:
    shape = normalize(sql)
    return Span(
        kind="db",
        start_ms=at,
        duration_ms=ms,
        location=where,
        stack=[where],
        framework="sqlalchemy",
        system="postgresql",
        statement=shape.statement,
        fingerprint=shape.fingerprint,
        params_digest=params,
        rows=1,
    )


def _reports(count: int, write_orders_from: int, write_orders_to: int) -> list[Trace]:
    """``GET /report`` reads the same slow totals every request; ``POST /orders``
    writes to orders (and logs), but for ``orders`` only in the requests from
    ``write_orders_from`` to ``write_orders_to``."""
    traces = []
    for i in range(count):
        traces.append(
            Trace(
                id=f"r{i:05d}",
                name="GET /report",
                kind="http",
                started_at=1_700_000_000.0 + i,
                duration_ms=60.0,
                status=200,
                spans=[
                    _db("SELECT sum(total) FROM orders", 1.0, 40.0, REPORT, "same"),
                    _db("SELECT name FROM products WHERE id = 1", 42.0, 15.0, REPORT, "p1"),
                ],
            )
        )
        spans = [_db("INSERT INTO logs (line) VALUES (1)", 0.5, 0.2, SAVE, "w")]
        if write_orders_from <= i <= write_orders_to:
            spans.append(_db("UPDATE orders SET total = 2 WHERE id = 1", 1.0, 0.3, SAVE, "w"))
        traces.append(
            Trace(
                id=f"w{i:05d}",
                name="POST /orders",
                kind="http",
                started_at=1_700_000_000.0 + i + 0.5,
                duration_ms=2.0,
                status=201,
                spans=spans,
            )
        )
    # One endpoint's chunks, then the other's.
    return [t for t in traces if t.name == "GET /report"] + [
        t for t in traces if t.name == "POST /orders"
    ]


@pytest.mark.parametrize(
    ("write_from", "write_to", "reads_found"),
    [
        (-1, -1, {"orders", "products"}),  # orders never written
        (500, 510, {"products"}),  # written between the reads' first and last run
        (999, 999, {"orders", "products"}),  # written after the last run only
    ],
)
def test_candidate_writes_on_disk_answer_as_in_memory(
    write_from: int, write_to: int, reads_found: set[str], tmp_path: Path
) -> None:
    traces = _reports(1000, write_from, write_to)
    on_disk, session = _found("cache-candidate", traces, write_times_in_memory=10)
    assert session.spill.used
    assert all(len(times) <= 10 + 100 for times in session.writes.values())
    in_memory, session = _found("cache-candidate", traces)
    assert not session.spill.used
    full, session = _found("cache-candidate", traces, opener=_filling(3), write_times_in_memory=10)
    assert session.spill.failed
    unopenable, _ = _found(
        "cache-candidate", traces, opener=_unopenable(tmp_path), write_times_in_memory=10
    )
    assert _as_data(on_disk) == _as_data(in_memory) == _as_data(full) == _as_data(unopenable)
    assert {t for f in on_disk for t in f.evidence["tables"]} == reads_found


# --- cache-candidate: at most so many reads seen once ---------------------------------


def _line(params: str) -> Location:
    return Location(f"{APP}/items.py", 10 + sum(map(ord, params)), "item")


def _request(i: int, params: list[str]) -> Trace:
    """Reads of one item each (its parameters), each from a line of its own (so
    that their findings are not merged into one)."""
    return Trace(
        id=f"q{i:04d}",
        name="GET /item",
        kind="http",
        started_at=1_700_000_000.0 + i,
        duration_ms=100.0,
        status=200,
        spans=[
            _db("SELECT * FROM items WHERE id = 1", 1.0 + n * 20, 20.0, _line(p), p)
            for n, p in enumerate(params)
        ],
    )


def _with(traces: list[Trace], cap: int | None) -> list[int]:
    settings = Settings()
    if cap is not None:
        settings = settings.replace(cache_candidate_max_reads=cap)
    found = [f for f in analyze(traces, settings).findings if f.id == "cache-candidate"]
    return sorted(f.evidence["traces"] for f in found)


def test_a_read_seen_once_is_forgotten_only_past_the_cap() -> None:
    # "a" in the first request, three other new reads, then "a" twice more.
    traces = [
        _request(0, ["a"]),
        _request(1, ["b"]),
        _request(2, ["c"]),
        _request(3, ["d"]),
        _request(4, ["a"]),
        _request(5, ["a"]),
    ]
    assert _with(traces, None) == [3]
    assert _with(traces, 4) == [3]  # a, b, c, d: at the cap, nothing forgotten
    # Over it: "a", the oldest seen once, is forgotten when "d" comes; it is
    # counted again from its return, in 2 requests: not the 3 a candidate needs.
    assert _with(traces, 3) == []


def test_a_read_seen_twice_is_kept_past_the_cap() -> None:
    traces = [_request(0, ["a"]), _request(1, ["a"])]
    traces += [_request(2 + n, [f"once{n}"]) for n in range(50)]
    traces.append(_request(60, ["a"]))
    assert _with(traces, 3) == [3]
    assert _with(traces, 3) == _with(traces, None)


def test_the_cap_keeps_the_newest_reads_seen_once() -> None:
    # "x" and "y" seen once, then 2 new reads: with a cap of 3, only "x" (the
    # oldest) is forgotten, and "y" comes back in two more requests.
    traces = [_request(0, ["x", "y"]), _request(1, ["p"]), _request(2, ["q"])]
    traces += [_request(3, ["y", "x"]), _request(4, ["y", "x"])]
    assert _with(traces, None) == [3, 3]
    assert _with(traces, 3) == [3]
