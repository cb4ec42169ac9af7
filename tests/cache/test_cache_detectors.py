"""The cache detectors over traces captured in-process from real Redis and real sqlite3."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.capture import context, identity
from perfdoctor.capture.privacy import keyed_digest
from perfdoctor.model import Finding
from perfdoctor.settings import Settings
from tests.capture.apps_support import marker_line
from tests.inprocess import capturing, load

HERE = Path(__file__)
# A read that costs tens of milliseconds on any machine, the same every time.
SLOW = (
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?) "
    "SELECT count(*) FROM n, report WHERE report.id = 1"
)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    r = redis.Redis.from_url(redis_url)
    yield r
    r.close()


def found(traces: Path, detector: str) -> list[Finding]:
    return [f for f in analyze(load(traces), Settings()).findings if f.id == detector]


def as_user(name: str) -> None:
    trace = context.current()
    assert trace is not None
    identity.set_user(trace, keyed_digest(f"test-user:{name}"))


# --- cache-no-ttl ------------------------------------------------------------


def test_a_redis_set_without_expiry_is_found(
    tmp_path: Path, client: redis.Redis, redis_prefix: str
) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        for user_id in (1, 2):
            with perfdoctor.trace("GET /visit", "http"):
                client.set(f"{redis_prefix}last-seen:{user_id}", "now")  # no-ttl: set
    [finding] = found(traces, "cache-no-ttl")
    assert finding.endpoint == "GET /visit"
    assert finding.location is not None and Path(finding.location.path).resolve() == HERE.resolve()
    assert finding.location.line == marker_line(HERE, "no-ttl: set")
    evidence = finding.evidence
    assert evidence["op"] == "set" and evidence["system"] == "redis"
    assert evidence["key"] == "pd-test-{id}:last-seen:{id}"
    assert evidence["writes"] == 2 and evidence["distinct_keys"] == 2
    assert evidence["requests_affected"] == 2
    assert evidence["call_site"].endswith(f"test_cache_detectors.py:{finding.location.line}")
    assert "ex=" in finding.fix


def test_a_pipelined_set_without_expire_is_found(
    tmp_path: Path, client: redis.Redis, redis_prefix: str
) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("POST /import", "http"):
        pipe = client.pipeline()
        pipe.set(f"{redis_prefix}row:1", "a")
        pipe.incr(f"{redis_prefix}rows")
        pipe.execute()  # no-ttl: pipeline
    [finding] = found(traces, "cache-no-ttl")
    assert finding.location is not None
    assert finding.location.line == marker_line(HERE, "no-ttl: pipeline")
    assert finding.evidence["key"] == "pd-test-{id}:row:{id}"


@pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")
def test_writes_with_an_expiry_are_clean(
    tmp_path: Path, client: redis.Redis, redis_prefix: str
) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces), perfdoctor.trace("GET /visit/fixed", "http"):
        client.set(f"{redis_prefix}a", "v", ex=300)
        client.setex(f"{redis_prefix}b", 300, "v")
        client.set(f"{redis_prefix}c", "v")
        client.expire(f"{redis_prefix}c", 300)
        pipe = client.pipeline()
        pipe.set(f"{redis_prefix}d", "v")
        pipe.expire(f"{redis_prefix}d", 300)
        pipe.execute()
        client.set(f"{redis_prefix}a", "w", keepttl=True)
    assert found(traces, "cache-no-ttl") == []


# --- cache-shared-key ---------------------------------------------------------


def profile_page(client: redis.Redis, key: str, user: str) -> bytes:
    cached = client.get(key)  # shared: read
    if cached is None:
        cached = f"profile of {user}".encode()
        client.set(key, cached, ex=60)  # shared: write
    return cached


def test_a_profile_cached_without_the_user_is_served_to_another_user(
    tmp_path: Path, client: redis.Redis, redis_prefix: str
) -> None:
    traces = tmp_path / "t.db"
    served = []
    with capturing(traces):
        for user in ("alice", "bob", "carol"):
            with perfdoctor.trace("GET /me", "http"):
                as_user(user)
                served.append(profile_page(client, f"{redis_prefix}my-profile", user))
    assert served == [b"profile of alice"] * 3  # bob and carol see alice's profile
    [finding] = found(traces, "cache-shared-key")
    assert finding.severity == "error"
    assert finding.endpoint == "GET /me"
    assert finding.location is not None and finding.location.line == marker_line(HERE, "shared: read")
    evidence = finding.evidence
    assert evidence["key"] == "pd-test-{id}:my-profile"
    assert evidence["users"] == 3
    assert evidence["reads_of_another_users_value"] == 2
    assert evidence["requests_affected"] == 2
    assert evidence["write_sites"][0].endswith(f":{marker_line(HERE, 'shared: write')}")


def test_the_user_id_in_the_key_is_clean(
    tmp_path: Path, client: redis.Redis, redis_prefix: str
) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        for user in ("alice", "bob", "alice", "bob"):
            with perfdoctor.trace("GET /me/fixed", "http"):
                as_user(user)
                profile_page(client, f"{redis_prefix}my-profile:{user}", user)
    assert found(traces, "cache-shared-key") == []


def test_data_meant_for_everyone_read_by_several_users_is_clean(
    tmp_path: Path, client: redis.Redis, redis_prefix: str
) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        for user in ("alice", "bob", "carol"):
            with perfdoctor.trace("GET /articles", "http"):
                as_user(user)
                profile_page(client, f"{redis_prefix}top-articles", "everyone")
    assert found(traces, "cache-shared-key") == []


def test_one_user_reading_their_own_value_is_clean(
    tmp_path: Path, client: redis.Redis, redis_prefix: str
) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        for _ in range(3):
            with perfdoctor.trace("GET /me", "http"):
                as_user("alice")
                profile_page(client, f"{redis_prefix}my-profile", "alice")
    assert found(traces, "cache-shared-key") == []


# --- cache-candidate ----------------------------------------------------------


def report_db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE report (id INTEGER PRIMARY KEY, title TEXT)")
    conn.execute("INSERT INTO report (title) VALUES ('yearly')")
    return conn


def yearly_report(conn: sqlite3.Connection) -> int:
    return int(conn.execute(SLOW, (400_000,)).fetchone()[0])  # candidate: query


def cached_report(conn: sqlite3.Connection, client: redis.Redis, key: str) -> int:
    cached = client.get(key)
    if cached is None:
        value = yearly_report(conn)
        client.set(key, value, ex=300)
        return value
    return int(cached)


def test_the_same_expensive_read_in_every_request_is_a_cache_candidate(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = report_db()
        for _ in range(4):
            with perfdoctor.trace("GET /reports/yearly", "http"):
                yearly_report(conn)
    [finding] = found(traces, "cache-candidate")
    assert finding.endpoint == "GET /reports/yearly"
    assert finding.location is not None and finding.location.line == marker_line(HERE, "candidate: query")
    evidence = finding.evidence
    assert evidence["runs"] == 4 and evidence["traces"] == 4
    assert evidence["p50_ms"] >= Settings().cache_candidate_min_p50_ms
    assert evidence["total_ms_all_requests"] >= evidence["p50_ms"] * 2
    assert evidence["requests_affected"] == 4
    assert "report" in evidence["tables"]
    assert evidence["suggested_ttl_s"] == 300
    assert "ex=300" in finding.fix and "lru_cache" in finding.fix


def test_the_read_behind_a_redis_cache_is_clean(
    tmp_path: Path, client: redis.Redis, redis_prefix: str
) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = report_db()
        for _ in range(4):
            with perfdoctor.trace("GET /reports/yearly/fixed", "http"):
                cached_report(conn, client, f"{redis_prefix}report:yearly")
    assert found(traces, "cache-candidate") == []


def test_a_read_whose_table_changes_between_requests_is_clean(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = report_db()
        for round_ in range(4):
            with perfdoctor.trace("GET /reports/yearly", "http"):
                yearly_report(conn)
            with perfdoctor.trace("POST /reports", "http"):
                conn.execute("UPDATE report SET title = ? WHERE id = 1", (f"v{round_}",))
    assert found(traces, "cache-candidate") == []
