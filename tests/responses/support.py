"""Helpers for the response tests: a slow local "email API", and reading what was stored."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.capture.apps_support import load
from tests.conftest import findings

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
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/send"
    finally:
        server.shutdown()
        server.server_close()


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
    """``perfdoctor run [OPTIONS] --traces TRACES -- COMMAND`` until ``url`` answers; SIGTERM after."""
    import os
    import signal
    import subprocess

    from tests.conftest import perfdoctor_cmd, wait_http

    process = subprocess.Popen(
        perfdoctor_cmd("run", *options, "--traces", str(traces), "--", *command),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_http(url, timeout=60, process=process)
        yield
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        output = process.stdout.read() if process.stdout else ""
        assert "perfdoctor: could not instrument" not in output, output
        assert "Traceback" not in output, output
