"""Every Django cache method a script calls is one span; what it calls inside is not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from perfdoctor import store
from perfdoctor.model import Span
from tests.cache.conftest import SCRIPTS, clean_env
from tests.capture.apps_support import marker_line
from tests.conftest import perfdoctor_cmd

SCRIPT = SCRIPTS / "django_cache_script.py"


def run(tmp_path: Path, **env: str) -> list[Span]:
    traces = tmp_path / "traces.db"
    result = subprocess.run(
        perfdoctor_cmd("run", "--traces", str(traces), "--", sys.executable, str(SCRIPT)),
        cwd=tmp_path, env=clean_env(**env), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "perfdoctor:" not in result.stderr, result.stderr
    [trace] = store.load_traces(traces)
    return trace.spans


def at(spans: list[Span], marker: str) -> Span:
    line = marker_line(SCRIPT, marker)
    found = [s for s in spans if s.location is not None and s.location.line == line]
    assert len(found) == 1, (marker, [(s.kind, s.attrs, s.location) for s in spans])
    return found[0]


def check(spans: list[Span], backend: str) -> None:
    cache = [s for s in spans if s.kind == "cache"]
    assert {s.system for s in cache} == {"django-cache"}
    assert {s.attrs["backend"] for s in cache} == {backend}
    # One span per call of the script: get_or_set's inner get/add/get are not spans.
    assert len(cache) == 11, [s.attrs for s in cache]
    miss, hit = at(spans, "django: get_or_set miss"), at(spans, "django: get_or_set hit")
    assert (miss.attrs["hit"], miss.attrs["written"], miss.attrs["ttl"]) == (False, True, 120.0)
    assert (hit.attrs["hit"], hit.attrs["written"]) == (True, False)
    assert hit.attrs["key"] == "report:{id}" and hit.attrs["key_digest"] == miss.attrs["key_digest"]
    assert hit.attrs["value_digest"] == miss.attrs["value_digest"] is not None
    # A plain (not callable) default: the miss is seen from the add it made.
    plain = at(spans, "django: get_or_set plain miss")
    assert (plain.attrs["hit"], plain.attrs["written"], plain.attrs["ttl"]) == (False, True, None)
    # The value function is the user's work: its query is recorded, once.
    [query] = [s for s in spans if s.kind == "db"]
    assert query.location is not None and query.location.line == marker_line(SCRIPT, "django: computed")
    # TIMEOUT None in CACHES: the default is "never expire".
    default = at(spans, "django: set default timeout")
    assert "ttl" in default.attrs and default.attrs["ttl"] is None
    assert at(spans, "django: add existing").attrs["written"] is False
    many = at(spans, "django: get_many")
    assert (many.attrs["keys"], many.attrs["hits"], many.attrs["hit"]) == (2, 1, False)
    assert at(spans, "django: incr").attrs["op"] == "incr"
    assert at(spans, "django: delete").attrs["op"] == "delete"
    # Async methods are recorded from the coroutine, at the user's line.
    assert at(spans, "django: aset").attrs["op"] == "set"
    aget = at(spans, "django: aget")
    assert (aget.attrs["op"], aget.attrs["hit"]) == ("get", True)
    assert "blocks_event_loop" not in aget.attrs


def test_locmem(tmp_path: Path) -> None:
    check(run(tmp_path, PD_PREFIX="locmem"), "LocMemCache")


def test_redis_backend(tmp_path: Path, redis_url: str, redis_prefix: str) -> None:
    spans = run(tmp_path, PD_PREFIX=redis_prefix, PD_CACHE="redis", REDIS_URL=redis_url)
    check(spans, "RedisCache")
    assert not [s for s in spans if s.system == "redis"]


def test_no_ttl_is_found_for_a_default_timeout_of_none(tmp_path: Path) -> None:
    from perfdoctor.analysis.analyze import analyze
    from perfdoctor.settings import Settings

    traces = tmp_path / "traces.db"
    run(tmp_path, PD_PREFIX="locmem")
    findings = [
        f for f in analyze(store.load_traces(traces), Settings()).findings if f.id == "cache-no-ttl"
    ]
    assert sorted(f.evidence["key"] for f in findings) == ["config", "plain"]
    findings = [f for f in findings if f.evidence["key"] == "config"]
    assert findings[0].location is not None
    assert findings[0].location.line == marker_line(SCRIPT, "django: set default timeout")
    assert "TIMEOUT" in findings[0].fix
