"""redis-py, sync and asyncio, captured in scripts run under ``perfdoctor run``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from perfdoctor import store
from perfdoctor.model import Span
from tests.cache.conftest import SCRIPTS, clean_env
from tests.capture.apps_support import marker_line
from tests.conftest import perfdoctor_cmd

SYNC = SCRIPTS / "redis_sync_script.py"
ASYNC = SCRIPTS / "redis_async_script.py"


def run_script(script: Path, tmp_path: Path, redis_url: str, prefix: str) -> list[Span]:
    traces = tmp_path / "traces.db"
    result = subprocess.run(
        perfdoctor_cmd("run", "--traces", str(traces), "--", sys.executable, str(script)),
        cwd=tmp_path, env=clean_env(REDIS_URL=redis_url, PD_PREFIX=prefix),
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "perfdoctor:" not in result.stderr, result.stderr
    [trace] = store.load_traces(traces)
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("traces.db*"))
    # Neither values nor the raw keys reach the store.
    assert b"secret-" not in raw
    assert prefix.encode() not in raw
    return [s for s in trace.spans if s.kind == "cache"]


def at(spans: list[Span], script: Path, marker: str) -> Span:
    line = marker_line(script, marker)
    found = [s for s in spans if s.location is not None and s.location.line == line]
    assert len(found) == 1, (marker, [(s.attrs, s.location) for s in spans])
    assert found[0].location is not None and Path(found[0].location.path) == script
    assert found[0].system == "redis"
    return found[0]


def attrs(span: Span, *names: str) -> dict[str, Any]:
    return {name: span.attrs.get(name) for name in names}


def test_sync_commands_and_pipelines(tmp_path: Path, redis_url: str, redis_prefix: str) -> None:
    spans = run_script(SYNC, tmp_path, redis_url, redis_prefix)
    assert len(spans) == 9, [s.attrs for s in spans]
    written = at(spans, SYNC, "redis: set ex")
    assert attrs(written, "op", "key", "ttl") == {
        "op": "set", "key": "pd-test-{id}:user:{id}:profile", "ttl": 60.0,
    }
    hit = at(spans, SYNC, "redis: get hit")
    assert attrs(hit, "op", "hit") == {"op": "get", "hit": True}
    assert hit.attrs["key_digest"] == written.attrs["key_digest"]
    assert hit.attrs["value_digest"] == written.attrs["value_digest"] is not None
    miss = at(spans, SYNC, "redis: get miss")
    assert attrs(miss, "hit", "value_digest") == {"hit": False, "value_digest": None}
    assert miss.attrs["key"] == hit.attrs["key"] and miss.attrs["key_digest"] != hit.attrs["key_digest"]
    no_ttl = at(spans, SYNC, "redis: set no ttl")
    assert "ttl" in no_ttl.attrs and no_ttl.attrs["ttl"] is None
    setex = at(spans, SYNC, "redis: setex")
    assert attrs(setex, "op", "key", "ttl") == {"op": "setex", "key": "pd-test-{id}:token:{id}", "ttl": 30.0}
    assert at(spans, SYNC, "redis: set px").attrs["ttl"] == 1.5
    mget = at(spans, SYNC, "redis: mget")
    assert attrs(mget, "op", "keys", "hits", "hit") == {"op": "mget", "keys": 2, "hits": 1, "hit": False}
    pipeline = at(spans, SYNC, "redis: pipeline")
    assert attrs(pipeline, "op", "commands") == {"op": "pipeline", "commands": 3}
    assert [(w["op"], w["ttl"]) for w in pipeline.attrs["writes"]] == [("set", None), ("expire", 120.0)]
    # Sync clients block: marked when an event loop was running in the thread.
    assert at(spans, SYNC, "redis: sync in async").attrs["blocks_event_loop"] is True
    assert "blocks_event_loop" not in hit.attrs


def test_asyncio_client(tmp_path: Path, redis_url: str, redis_prefix: str) -> None:
    spans = run_script(ASYNC, tmp_path, redis_url, redis_prefix)
    assert len(spans) == 4, [s.attrs for s in spans]
    written = at(spans, ASYNC, "aredis: set")
    assert attrs(written, "op", "key", "ttl") == {"op": "set", "key": "pd-test-{id}:session:{id}", "ttl": 90.0}
    hit = at(spans, ASYNC, "aredis: get hit")
    assert hit.attrs["hit"] is True and hit.attrs["value_digest"] == written.attrs["value_digest"]
    assert at(spans, ASYNC, "aredis: get miss").attrs["hit"] is False
    pipeline = at(spans, ASYNC, "aredis: pipeline")
    assert attrs(pipeline, "op", "commands", "transaction") == {
        "op": "pipeline", "commands": 2, "transaction": True,
    }
    assert all("blocks_event_loop" not in s.attrs for s in spans)


@pytest.mark.parametrize(
    ("key", "pattern"),
    [
        ("user:42:profile", "user:{id}:profile"),
        ("profile", "profile"),
        ("session:3f2a9b1c0d4e5f60718293a4b5c6d7e8", "session:{id}"),
        ("cart:bob@example.com", "cart:{id}"),
        ("item/3fa85f64-5717-4562-b3fc-2c963f66afa6/v", "item/{id}/v"),
        (b"bytes:7", "bytes:{id}"),
        # A base64url token with no digit between its dashes is still one value.
        ("reset:AbCdEfGhIj_KlMnOpQrSt-UvWxYz", "reset:{id}"),
        ("reset_AbCdEfGhIj_KlMnOpQrSt-UvWxYz", "reset_{id}"),
        ("pd-test-3f2a9b1c0d4e:user", "pd-test-{id}:user"),
        ("template.cache.sidebar_navigation_menu", "template.cache.sidebar_navigation_menu"),
    ],
)
def test_key_patterns_collapse_ids(key: Any, pattern: str) -> None:
    from perfdoctor.capture.cache_keys import key_pattern

    assert key_pattern(key) == pattern


def test_the_apps_own_errors_pass_through_unchanged(tmp_path: Path) -> None:
    import redis

    import perfdoctor
    from tests.conftest import free_port
    from tests.inprocess import capturing, load

    traces = tmp_path / "t.db"
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # nothing listens there; no retries, to fail at once
    client = redis.Redis(port=free_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    with capturing(traces), perfdoctor.trace("GET /down", "http"):
        with pytest.raises(redis.ConnectionError):
            client.get("pd-test-down")
        with pytest.raises(redis.ConnectionError):
            client.pipeline().set("pd-test-down", 1).execute()
    [trace] = load(traces)
    assert [(s.attrs["op"], s.attrs["error"]) for s in trace.spans] == [
        ("get", "ConnectionError"),
        ("pipeline", "ConnectionError"),
    ]
