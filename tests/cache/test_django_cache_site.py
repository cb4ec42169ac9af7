"""Django's cache under ``perfdoctor run``: real logins, real sessions, locmem and Redis.

The site (``tests/apps/django_cache_site``) caches the logged-in user's profile
under a key with no user part.  Alice asks first; Bob, logged in as himself,
is then served Alice's profile: the real bug, seen in the response.  perfdoctor's
report names the key and the view; the fixed view (user id in the key) is clean.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import requests

from perfdoctor import store
from perfdoctor.model import Trace
from tests.cache.conftest import (
    CACHE_SITE,
    CACHE_VIEWS,
    clean_env,
    delete_prefixed,
    prepare_cache_site,
)
from tests.capture.apps_support import marker_line, resolve, wait_for_traces
from tests.conftest import findings, free_port, report_json, serve_under_perfdoctor

PROFILE = "GET /profile/"
PROFILE_FIXED = "GET /profile/fixed/"
BANNER = "GET /banner/"
BANNER_FIXED = "GET /banner/fixed/"
PASSWORDS = {"alice": "alice-password", "bob": "bob-password"}


def logged_in(base: str, user: str) -> requests.Session:
    """A browser-like client that logged in over HTTP (CSRF cookie, then a session)."""
    client = requests.Session()
    client.trust_env = False  # no proxy for 127.0.0.1
    token = client.get(f"{base}/login/", timeout=30).json()["csrf"]
    answer = client.post(
        f"{base}/login/",
        data={"username": user, "password": PASSWORDS[user], "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/login/"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert "sessionid" in client.cookies
    return client


def profile(client: requests.Session, url: str) -> dict[str, Any]:
    answer = client.get(url, timeout=30)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def count(name: str, n: int) -> Any:
    return lambda traces: sum(t.name == name for t in traces) >= n


def run_site(tmp_path: Path, cache: str, redis_url: str | None, prefix: str) -> tuple[Path, dict[str, Any]]:
    """Serve the site under perfdoctor, log alice and bob in, drive every view."""
    env = clean_env(
        PD_SQLITE_PATH=str(tmp_path / "site.sqlite3"), PD_CACHE=cache, PD_CACHE_PREFIX=prefix
    )
    if redis_url:
        env["PD_REDIS_URL"] = redis_url
    prepare_cache_site(env)
    traces = tmp_path / "traces.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    seen: dict[str, Any] = {}
    with serve_under_perfdoctor(command, traces, f"{base}/health/", cwd=CACHE_SITE, env=env):
        alice, bob = logged_in(base, "alice"), logged_in(base, "bob")
        seen["alice"] = profile(alice, f"{base}/profile/")
        seen["bob"] = profile(bob, f"{base}/profile/")
        seen["alice_again"] = profile(alice, f"{base}/profile/")
        seen["alice_fixed"] = profile(alice, f"{base}/profile/fixed/")
        seen["bob_fixed"] = profile(bob, f"{base}/profile/fixed/")
        seen["bob_fixed_again"] = profile(bob, f"{base}/profile/fixed/")
        for client in (alice, bob):
            assert client.get(f"{base}/banner/", timeout=30).status_code == 200
            assert client.get(f"{base}/banner/fixed/", timeout=30).status_code == 200
        wait_for_traces(traces, lambda t: count(PROFILE, 3)(t) and count(BANNER_FIXED, 2)(t))
    return traces, seen


def cache_spans(traces: list[Trace], name: str) -> list[Any]:
    return [s for t in traces if t.name == name for s in t.spans if s.kind == "cache"]


def assert_the_bug_and_its_report(traces_path: Path, seen: dict[str, Any]) -> None:
    # The real bug: Bob, logged in as Bob, is shown Alice's profile.
    assert seen["alice"]["username"] == "alice"
    assert seen["bob"]["username"] == "alice", seen["bob"]
    # The fixed view gives each their own.
    assert seen["alice_fixed"]["username"] == "alice"
    assert seen["bob_fixed"]["username"] == "bob"
    assert seen["bob_fixed_again"]["username"] == "bob"

    traces = store.load_traces(traces_path)
    requests_ = [t for t in traces if t.name == PROFILE]
    users = [t.attrs.get("user") for t in requests_]
    assert all(t.attrs.get("authenticated") is True for t in requests_), [t.attrs for t in requests_]
    # Alice's two requests are one user (loaded user, then session only), Bob another.
    assert users[0] == users[2] and users[0] != users[1], users

    report = report_json(traces_path, cwd=CACHE_SITE)
    [finding] = findings(report, "cache-shared-key", PROFILE)
    assert finding["severity"] == "error"
    evidence = finding["evidence"]
    assert evidence["key"] == "my-profile"
    assert evidence["view"] == PROFILE
    assert evidence["users"] == 2
    assert evidence["system"] == "django-cache"
    location = finding["location"]
    assert resolve(location["path"], CACHE_SITE) == CACHE_VIEWS.resolve()
    assert location["line"] == marker_line(CACHE_VIEWS, "shared-key: read")
    assert location["function"] == "my_profile"
    line = marker_line(CACHE_VIEWS, "shared-key: write")
    assert any(site.endswith(f"views.py:{line}") for site in evidence["write_sites"]), evidence
    assert "user" in finding["fix"] and "key" in finding["fix"]
    assert findings(report, "cache-shared-key", PROFILE_FIXED) == []
    # Nothing of who they are: no usernames, no cached values in the report.
    assert "alice" not in json.dumps(finding) and "bob" not in json.dumps(finding)

    [no_ttl] = findings(report, "cache-no-ttl", BANNER)
    assert no_ttl["evidence"]["key"] == "site-banner"
    assert no_ttl["evidence"]["op"] == "set"
    assert no_ttl["evidence"]["writes"] == 2
    assert no_ttl["location"]["line"] == marker_line(CACHE_VIEWS, "no-ttl: write")
    assert "timeout=" in no_ttl["fix"]
    assert findings(report, "cache-no-ttl", BANNER_FIXED) == []
    assert findings(report, "cache-no-ttl", PROFILE) == []


def test_locmem_cache_serves_alice_profile_to_bob_and_perfdoctor_names_it(tmp_path: Path) -> None:
    traces, seen = run_site(tmp_path, "locmem", None, f"pd-{tmp_path.name}")
    assert_the_bug_and_its_report(traces, seen)
    spans = cache_spans(store.load_traces(traces), PROFILE)
    assert {s.system for s in spans} == {"django-cache"}
    assert {s.attrs["backend"] for s in spans} == {"LocMemCache"}
    reads = [s for s in spans if s.attrs["op"] == "get"]
    assert [s.attrs["hit"] for s in reads] == [False, True, True]
    [write] = [s for s in spans if s.attrs["op"] == "set"]
    assert write.attrs["ttl"] == 300.0
    assert reads[1].attrs["value_digest"] == write.attrs["value_digest"]


def test_redis_cache_backend_is_recorded_once_at_the_django_level(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    try:
        traces, seen = run_site(tmp_path, "redis", redis_url, redis_prefix)
    finally:
        delete_prefixed(redis_url, redis_prefix)
    assert_the_bug_and_its_report(traces, seen)
    loaded = store.load_traces(traces)
    spans = cache_spans(loaded, PROFILE)
    # The redis commands Django's RedisCache sends are not recorded a second time.
    assert {s.system for s in spans} == {"django-cache"}
    assert {s.attrs["backend"] for s in spans} == {"RedisCache"}
    assert [s.attrs["op"] for s in spans] == ["get", "set", "get", "get"]
    assert all(s.attrs.get("blocks_event_loop") is None for s in spans)
    # The store holds no username or e-mail (the cached values) and no raw prefix.
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("traces.db*"))
    assert b"alice@example.com" not in raw
    assert redis_prefix.encode() not in raw
