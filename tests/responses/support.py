"""Helpers for the response tests: a slow local "email API", and reading what was stored."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from perfdoctor.model import Trace
from tests.capture.apps_support import load
from tests.conftest import findings, serve_under_perfdoctor, serving

APPS = Path(__file__).parent / "apps"
# The local stand-in for a remote API answers writes after this long.
WEBHOOK_DELAY = 0.35


class _Webhook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        time.sleep(WEBHOOK_DELAY)
        if self.path.startswith("/quote"):
            # A remote answer the caller shows: a priced quote, not an acknowledgement.
            lines = ",".join(f'{{"line": {i}, "price": {i * 7}}}' for i in range(150))
            body = f'{{"lines": [{lines}]}}'.encode()
            self.send_response(200)
        else:
            body = b'{"sent": true}'
            self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def webhook_server() -> Iterator[str]:
    """A slow remote API on 127.0.0.1 (a free port); yields its URL."""
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)) as url:
        yield f"{url}/send"


def request(url: str, method: str = "GET", user: str | None = None) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    headers = {"Authorization": f"Bearer {user}"} if user else {}
    data = b"{}" if method != "GET" else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def ok(url: str, method: str = "GET", user: str | None = None) -> bytes:
    status, body = request(url, method, user)
    assert status == 200, (url, status, body[:500])
    return body


# endpoint -> (method, path, requests)
Plan = dict[str, tuple[str, str, int]]
# Requests alternate between two signed-in users, so per-user answers differ.
USERS = ("alice", "bob")


def drive(base: str, plan: Plan) -> tuple[dict[str, bytes], dict[str, int]]:
    """Send every endpoint its requests: the last body of each, and the traces to wait for."""
    bodies: dict[str, bytes] = {}
    for name, (method, path, count) in plan.items():
        for i in range(count):
            bodies[name] = ok(base + path, method, USERS[i % 2])
    return bodies, {name: count for name, (_, _, count) in plan.items()}


@dataclass
class Run:
    """What a module's app run left: its stored traces, the report, the bodies."""

    traces: list[Trace]
    report: dict[str, Any]
    bodies: dict[str, bytes]

    def named(self, name: str) -> list[Trace]:
        found = [t for t in self.traces if t.name == name]
        assert found, (name, sorted({t.name for t in self.traces}))
        return found


def wait_stored(traces: Path, expected: dict[str, int], timeout: float = 30.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        loaded = load(traces)
        have: dict[str, int] = {}
        for trace in loaded:
            have[trace.name] = have.get(trace.name, 0) + 1
        if all(have.get(name, 0) >= n for name, n in expected.items()):
            return loaded
        assert time.monotonic() < deadline, f"stored {have}, expected {expected}"
        time.sleep(0.05)


def one(report: dict[str, Any], detector: str, endpoint: str) -> dict[str, Any]:
    found = findings(report, detector, endpoint)
    assert len(found) == 1, (detector, endpoint, report["findings"])
    return found[0]


def none_of(report: dict[str, Any], detectors: tuple[str, ...], endpoint: str) -> None:
    found = [f for d in detectors for f in findings(report, d, endpoint)]
    assert not found, (endpoint, found)


# The response detectors (also what the demo's responses area must trigger).
OURS = (
    "missing-pagination",
    "missing-http-cache",
    "slow-endpoint",
    "high-memory",
    "background-job-candidate",
)


@contextlib.contextmanager
def serve(
    command: list[str], traces: Path, url: str, cwd: Path, env: dict[str, str], *options: str
) -> Iterator[None]:
    """``perfdoctor run [OPTIONS] --traces TRACES -- COMMAND`` until ``url`` answers; SIGTERM after.

    Stricter than :func:`serve_under_perfdoctor` alone: these apps log no
    traceback of their own, so any in the output is a failure.
    """
    with serve_under_perfdoctor(command, traces, url, cwd, env, options=options) as process:
        yield
    output: str = process.captured_output  # type: ignore[attr-defined]
    assert "Traceback" not in output, output
