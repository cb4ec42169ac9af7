"""Secrets and personal data in URLs never reach the store; endpoints stay recognisable.

One run of ``apps/url_secrets.py`` under ``perfdoctor run``: real Django, Flask and
FastAPI apps and router-less WSGI/ASGI apps, calling a real HTTP server on
127.0.0.1 through requests, httpx, urllib and urllib3, with ``planted.py``'s
secrets in paths, user info, query strings and a redirect's Location.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from perfdoctor import store
from perfdoctor.model import Trace
from tests.capture.apps_support import app_env
from tests.conftest import report_json, run_perfdoctor
from tests.reliability import planted

HERE = Path(__file__).parent
UNMATCHED = "GET <unmatched>"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cwd = tmp_path_factory.mktemp("url-privacy")
    traces = cwd / "store" / "traces.db"
    result = run_perfdoctor(
        "run", "--traces", str(traces), "--",
        sys.executable, str(HERE / "apps" / "url_secrets.py"), str(cwd / "static"),
        cwd=cwd, env=app_env(),
    )
    assert result.returncode == 0 and "ok" in result.stdout, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return {"cwd": cwd, "traces": traces, "loaded": store.load_traces(traces)}


def _urls(traces: list[Trace]) -> set[str]:
    return {str(s.attrs["url"]) for t in traces for s in t.spans if s.kind == "http"}


def _upstream(traces: list[Trace]) -> str:
    [host] = {
        str(s.attrs["host"]) for t in traces for s in t.spans
        if s.kind == "http" and str(s.attrs["host"]).startswith("127.0.0.1:")
    }
    return f"http://{host}"


def test_no_planted_secret_is_in_any_file_of_the_store(run: dict[str, Any]) -> None:
    folder = run["traces"].parent
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert run["traces"] in files
    data = b"\n".join(p.read_bytes() for p in files)
    for secret in (*planted.SECRETS, *planted.FRAGMENTS):
        assert secret.encode() not in data, f"{secret!r} is stored in {folder}"


def test_outbound_urls_are_templates_that_keep_the_endpoints_words(run: dict[str, Any]) -> None:
    traces = run["loaded"]
    up = _upstream(traces)
    assert {
        f"{up}/services/{{id}}/{{id}}/{{token}}",  # a Slack webhook
        f"{up}/{{token}}/sendMessage",  # a Telegram bot token
        f"{up}/v1/customers/{{email}}/charges",
        f"{up}/orders/{{id}}",
        f"{up}/files/{{id}}",
        f"{up}/invite/{{token}}",
        f"{up}/session/{{token}}/refresh",
        f"{up}/repos/django/django/pulls",
        f"{up}/repos/django/django/pulls/{{id}}",
        f"{up}/api/v2/users",
        f"{up}/api/v2/users/{{id}}",
        f"{up}/v1/charges",
        f"{up}/api/chat.postMessage",
        f"{up}/go",  # the call made; the redirect's target is not recorded
    } <= _urls(traces)
    # The user info is dropped from the host, which is kept.
    hosts = {str(s.attrs["host"]) for t in traces for s in t.spans if s.kind == "http"}
    assert up.removeprefix("http://") in hosts
    assert not any("@" in h for h in hosts)


def test_cache_keys_keep_their_words_and_lose_their_tokens(run: dict[str, Any]) -> None:
    keys = {str(s.attrs["key"]) for t in run["loaded"] for s in t.spans if s.kind == "cache"}
    assert keys == {"password-reset:{id}"}


def test_each_endpoint_has_one_template_so_repeats_still_group(run: dict[str, Any]) -> None:
    per_call = [
        str(s.attrs["url"]) for t in run["loaded"] if t.name == "GET /charges"
        for s in t.spans if s.kind == "http"
    ]
    # Nine calls to nine endpoints: nine templates, none split by its values.
    assert len(per_call) == len(set(per_call)) == 9


def test_requests_no_route_matched_are_one_endpoint_with_their_status(
    run: dict[str, Any],
) -> None:
    traces = run["loaded"]
    unmatched = [t for t in traces if t.name == UNMATCHED]
    # Django, Flask and FastAPI each answered one such request with a 404.
    assert len(unmatched) == 3
    assert {t.status for t in unmatched} == {404}
    assert {t.attrs.get("framework") for t in unmatched} == {"django", "flask", "fastapi"}
    assert not any("password-reset" in t.name and t.attrs.get("framework") for t in traces)


def test_matched_routes_keep_their_router_template(run: dict[str, Any]) -> None:
    names = {t.name for t in run["loaded"] if t.kind == "http"}
    assert {
        "GET /articles/{pk}/",  # Django
        "GET /charges",
        "GET /reset/{token}",  # Flask's rule names the parameter; the value goes
        "GET /items/{item_id}",  # FastAPI
        "GET /static/{path}",  # a StaticFiles mount
    } <= names


def test_requests_answered_without_a_known_router_are_named_by_the_templated_path(
    run: dict[str, Any],
) -> None:
    traces = run["loaded"]
    # A CORS preflight, answered by middleware before FastAPI routed it.
    [preflight] = [t for t in traces if t.name.startswith("OPTIONS ")]
    assert (preflight.name, preflight.status) == ("OPTIONS /items/{token}", 200)
    # The plain WSGI and ASGI apps have no router perfdoctor knows.
    plain = [t for t in traces if t.name == "GET /password-reset/{token}"]
    assert len(plain) == 2
    assert all(t.attrs["query_names"] == ["token"] for t in plain)


def test_the_report_shows_unmatched_requests_as_one_endpoint(run: dict[str, Any]) -> None:
    report = report_json(run["traces"], cwd=run["cwd"])
    [row] = [e for e in report["endpoints"] if e["name"] == UNMATCHED]
    assert row["requests"] == 3
    text = str(report)
    for secret in (*planted.SECRETS, *planted.FRAGMENTS):
        assert secret not in text
