"""Real Django, Flask and FastAPI apps, and router-less WSGI and ASGI apps, whose
requests and outbound calls carry the secrets of ``planted.py`` in their URLs.

Run as ``perfdoctor run -- python url_secrets.py STATIC_DIR``.  Outbound calls go
through requests, httpx (sync and async), urllib and urllib3 to a real HTTP server
on 127.0.0.1; inbound requests go through each framework's own test client.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import planted as p

STATIC = Path(sys.argv[1])


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.startswith("/go"):
            self.send_response(302)
            self.send_header("Location", f"/landing/{p.REDIRECT_SECRET}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
threading.Thread(target=server.serve_forever, daemon=True).start()
PORT = server.server_address[1]
UP = f"http://127.0.0.1:{PORT}"
WITH_USER = f"http://{p.USER}:{p.PASSWORD}@127.0.0.1:{PORT}"

import httpx  # noqa: E402
import requests  # noqa: E402
import urllib3  # noqa: E402


def fetch(url: str) -> None:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200, url


# --- Django -----------------------------------------------------------------
import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["testserver"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="not-a-secret-of-the-test",
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
)
django.setup()

from django.core.cache import cache  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import path  # noqa: E402


def article(request: HttpRequest, pk: int) -> JsonResponse:
    slack = f"{UP}/services/{p.SLACK_TEAM}/{p.SLACK_BOT}/{p.SLACK_TOKEN}"
    requests.post(slack, json={"text": "hello"}, timeout=5).raise_for_status()
    telegram = f"{UP}/bot{p.TELEGRAM_BOT_ID}:{p.TELEGRAM_TOKEN}/sendMessage"
    httpx.post(telegram, json={"chat_id": 1}, timeout=5).raise_for_status()
    fetch(f"{UP}/v1/customers/{p.EMAIL}/charges")
    cache.set(f"password-reset:{p.CACHE_TOKEN}", pk, 60)
    assert cache.get(f"password-reset:{p.CACHE_TOKEN}") == pk
    return JsonResponse({"pk": pk})


urlpatterns = [path("articles/<int:pk>/", article)]

django_client = Client()
assert django_client.get(f"/articles/7/?token={p.INBOUND_QUERY_SECRET}").status_code == 200
assert django_client.get(f"/password-reset/{p.RESET_TOKENS['django']}").status_code == 404

# --- Flask ------------------------------------------------------------------
from flask import Flask  # noqa: E402

flask_app = Flask("url_secrets")


@flask_app.get("/charges")
def charges() -> dict[str, bool]:
    requests.get(f"{UP}/orders/{p.UUID}", timeout=5).raise_for_status()
    httpx.get(f"{UP}/files/{p.HEX_TOKEN}", timeout=5).raise_for_status()
    fetch(f"{UP}/invite/{p.BASE64URL_TOKEN}")
    requests.get(f"{UP}/session/{p.JWT}/refresh", timeout=5).raise_for_status()
    requests.get(f"{WITH_USER}/api/v2/users", timeout=5).raise_for_status()
    httpx.get(f"{WITH_USER}/api/v2/users/42", timeout=5).raise_for_status()
    requests.get(
        f"{UP}/repos/django/django/pulls",
        params={"access_token": p.QUERY_SECRETS[0], "state": "open"}, timeout=5,
    ).raise_for_status()
    httpx.get(f"{UP}/v1/charges", params={"api_key": p.QUERY_SECRETS[1]}, timeout=5)
    fetch(f"{UP}/api/chat.postMessage?sig={p.QUERY_SECRETS[2]}")
    return {"ok": True}


@flask_app.get("/reset/<token>")
def reset(token: str) -> dict[str, bool]:
    return {"ok": True}


flask_client = flask_app.test_client()
assert flask_client.get(f"/charges?token={p.INBOUND_QUERY_SECRET}").status_code == 200
assert flask_client.get(f"/reset/{p.ROUTE_TOKEN}").status_code == 200
assert flask_client.get(f"/password-reset/{p.RESET_TOKENS['flask']}/").status_code == 404

# --- FastAPI ----------------------------------------------------------------
from fastapi import FastAPI  # noqa: E402
from fastapi.middleware.cors import CORSMiddleware  # noqa: E402
from fastapi.staticfiles import StaticFiles  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

api = FastAPI()
api.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"])


@api.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=5) as client:
        # The server redirects to a path holding a secret: only the call made is kept.
        (await client.get(f"{UP}/go", follow_redirects=True)).raise_for_status()
    return {"id": item_id}


STATIC.mkdir(parents=True, exist_ok=True)
(STATIC / "hello.txt").write_text("hello")
api.mount("/static", StaticFiles(directory=STATIC))

with TestClient(api) as fastapi_client:
    assert fastapi_client.get("/items/5").status_code == 200
    assert fastapi_client.get(f"/password-reset/{p.RESET_TOKENS['fastapi']}").status_code == 404
    preflight = fastapi_client.options(
        f"/items/{p.PREFLIGHT_TOKEN}",
        headers={"Origin": "http://example.test", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200
    assert fastapi_client.get("/static/hello.txt").status_code == 200

# --- Plain WSGI and ASGI apps: no router perfdoctor knows -------------------
from wsgiref.util import setup_testing_defaults  # noqa: E402

from perfdoctor.capture import asgi, wsgi  # noqa: E402


def plain_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    pool = urllib3.PoolManager()
    pool.request("GET", f"{UP}/repos/django/django/pulls/9", timeout=5)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


environ: dict[str, Any] = {
    "PATH_INFO": f"/password-reset/{p.RESET_TOKENS['wsgi']}",
    "QUERY_STRING": f"token={p.INBOUND_QUERY_SECRET}",
}
setup_testing_defaults(environ)
statuses: list[str] = []
body = wsgi.TraceMiddleware(plain_wsgi)(environ, lambda status, headers: statuses.append(status))
b"".join(body)
body.close()  # type: ignore[attr-defined]
assert statuses == ["200 OK"], statuses


async def plain_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def call_asgi() -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "GET", "path": f"/password-reset/{p.RESET_TOKENS['asgi']}",
        "query_string": f"token={p.INBOUND_QUERY_SECRET}".encode(), "headers": [],
    }
    await asgi.TraceMiddleware(plain_asgi)(scope, receive, send)
    assert sent[0]["status"] == 200


asyncio.run(call_asgi())
server.shutdown()
print("ok")
