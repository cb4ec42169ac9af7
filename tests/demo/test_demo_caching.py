"""The demo's caching area: each cache detector fires on its endpoint, never on the fix.

The demo runs on the real Redis of the ``redis_url`` fixture; without Redis (or
without redis-py) the endpoints still answer, which the last tests check.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import perfdoctor.demo.area_caching as area
from perfdoctor.analysis.analyze import Analysis, analyze
from perfdoctor.model import Finding, Trace
from perfdoctor.settings import Settings
from tests.conftest import REDIS_URL, free_port
from tests.demo.support import DEMO_ROUNDS, SharedDemo, line_in, run_quietly

SOURCE = Path(area.__file__).resolve()
ROUNDS = DEMO_ROUNDS  # cache-candidate wants the read in three requests
EXPECTED = {
    "cache-no-ttl": "GET /caching/last-seen",
    "cache-shared-key": "GET /caching/profile",
    "cache-candidate": "GET /caching/trending-tags",
}
FIXED = ("GET /caching/last-seen/fixed", "GET /caching/profile/fixed", "GET /caching/trending-tags/fixed")


def demo(folder: Path) -> tuple[list[Trace], Analysis]:
    loaded = run_quietly(folder, ROUNDS)
    return loaded, analyze(loaded, Settings())


@pytest.fixture(scope="module")
def with_redis(shared_demo: SharedDemo) -> Iterator[tuple[list[Trace], Analysis]]:
    # The shared run used the Redis at the demo's default REDIS_URL, this one.
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1.0)
        client.ping()
    except redis.RedisError as exc:
        message = f"Redis is not reachable at {REDIS_URL} ({exc})"
        if os.environ.get("CI"):
            pytest.fail(f"CI: {message}", pytrace=False)
        pytest.skip(message)
    try:
        loaded = shared_demo.traces()
        yield loaded, analyze(loaded, Settings())
    finally:
        # The demo's one kind of key without expiry (its cache-no-ttl example).
        keys = list(client.scan_iter(match=f"{area.PREFIX}last-seen:*"))
        if keys:
            client.delete(*keys)
        client.close()


def line_of(text: str) -> int:
    return line_in(SOURCE, text)


def on_area(analysis: Analysis, detector: str) -> list[Finding]:
    return [
        f for f in analysis.findings
        if f.id == detector and (f.endpoint or "").startswith("GET /caching/")
    ]


def only(analysis: Analysis, detector: str) -> Finding:
    found = on_area(analysis, detector)
    assert [f.endpoint for f in found] == [EXPECTED[detector]], [(f.endpoint, f.location) for f in found]
    finding = found[0]
    assert finding.location is not None
    assert Path(finding.location.path).resolve() == SOURCE
    return finding


def test_every_caching_endpoint_is_listed_for_the_driver() -> None:
    assert len(area.ENDPOINTS) == 6
    assert all(path.startswith("/caching/") for path in area.ENDPOINTS)


def test_the_last_seen_key_never_expires(with_redis: tuple[list[Trace], Analysis]) -> None:
    finding = only(with_redis[1], "cache-no-ttl")
    assert finding.location is not None
    assert finding.location.line == line_of('client.set(f"{PREFIX}last-seen:{_author_id()}"')
    assert finding.evidence["key"] == "perfdoctor-demo:last-seen:{id}"
    assert finding.evidence["writes"] == ROUNDS
    assert finding.evidence["distinct_keys"] == 2  # alice and bob
    assert "ex=" in finding.fix


def test_bob_is_served_alices_profile(with_redis: tuple[list[Trace], Analysis]) -> None:
    traces, analysis = with_redis
    finding = only(analysis, "cache-shared-key")
    assert finding.location is not None
    assert finding.location.line == line_of("entry = client.get(key)")
    assert finding.location.function == "my_profile"
    evidence = finding.evidence
    assert evidence["key"] == "perfdoctor-demo:{id}:my-profile"
    assert evidence["users"] == 2
    assert evidence["view"] == "GET /caching/profile"
    users = {t.attrs.get("user") for t in traces if t.name == "GET /caching/profile"}
    assert len(users) == 2 and None not in users


def test_the_trending_tags_are_recomputed_on_every_request(
    with_redis: tuple[list[Trace], Analysis],
) -> None:
    finding = only(with_redis[1], "cache-candidate")
    assert finding.location is not None and finding.location.function == "_trending_tags"
    evidence = finding.evidence
    assert evidence["traces"] == ROUNDS
    assert evidence["p50_ms"] >= Settings().cache_candidate_min_p50_ms
    assert "comments" in evidence["tables"]
    assert "lru_cache" in finding.fix


def test_the_fixed_twins_are_clean(with_redis: tuple[list[Trace], Analysis]) -> None:
    traces, analysis = with_redis
    mine = {"cache-no-ttl", "cache-shared-key", "cache-candidate"}
    assert [f for f in analysis.findings if f.id in mine and f.endpoint in FIXED] == []
    # The fixed trending tags ran the query once, then read Redis.
    runs = Counter(
        len([s for s in t.spans if s.kind == "db" and "comments" in (s.statement or "")])
        for t in traces if t.name == "GET /caching/trending-tags/fixed"
    )
    assert runs == Counter({1: 1, 0: ROUNDS - 1})


def test_without_redis_every_endpoint_still_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens
    traces, analysis = demo(tmp_path)
    caching = [t for t in traces if t.name.startswith("GET /caching/")]
    assert len(caching) == ROUNDS * len(area.ENDPOINTS)
    assert all(t.status == 200 for t in caching)
    assert on_area(analysis, "cache-no-ttl") == on_area(analysis, "cache-shared-key") == []


def test_without_redis_py_the_area_still_loads_and_answers(tmp_path: Path) -> None:
    script = f"""
import sys
sys.modules["redis"] = None  # as if the redis extra were not installed
from pathlib import Path
from perfdoctor.demo.app import create_app
from perfdoctor.demo.seed import ensure_seeded
import perfdoctor.demo.area_caching as area
assert area.redis is None
database = Path({str(tmp_path / "demo.sqlite")!r})
ensure_seeded(database)
client = create_app(database).test_client()
for path in area.ENDPOINTS:
    answer = client.get(path, headers={{"Authorization": "Bearer demo-token-alice"}})
    assert answer.status_code == 200, (path, answer.status_code)
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
