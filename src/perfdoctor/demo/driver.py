"""Drive the demo app under capture: what ``perfdoctor audit`` runs before its report.

The app is started exactly as a user would start theirs under ``perfdoctor
run``: a separate Python process with perfdoctor's bootstrap on its path.  Every
endpoint is requested over HTTP, the server is stopped with SIGTERM like a
supervisor would, and the trace store is checked for what it wrote.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import suppress
from pathlib import Path
from typing import IO

from perfdoctor import store
from perfdoctor.demo import DemoError, areas, default_database
from perfdoctor.errors import StoreError
from perfdoctor.progress import Feedback
from perfdoctor.runner import capture_environment

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
REQUEST_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0

# Every endpoint of the demo app; `{author_id}` takes a different author each round.
ENDPOINTS = (
    "/articles",
    "/articles/fixed",
    "/authors/{author_id}",
    "/authors/{author_id}/fixed",
    "/stats/top-commenters",
    "/stats/top-commenters/fixed",
)


def request_paths(rounds: int, authors: int) -> list[tuple[str, str]]:
    """(path, user) requested, in order: every endpoint once per round, users in turn."""
    paths: list[tuple[str, str]] = []
    every = ENDPOINTS + areas.endpoints()
    for round_index in range(rounds):
        # Spread over the seeded ids 1..authors, a different author each round.
        author_id = 1 + (round_index * 37 + 4) % authors
        user = areas.USERS[round_index % len(areas.USERS)]
        paths.extend((path.format(author_id=author_id), user) for path in every)
    return paths


def run_demo(
    traces: Path, rounds: int = 3, quiet: bool = False, database: Path | None = None
) -> None:
    """Seed, serve under capture, request every endpoint ``rounds`` times, stop."""
    if rounds < 1:
        raise DemoError(f"rounds must be at least 1, not {rounds}")
    _require_demo_dependencies()
    from perfdoctor.demo.models import SIZES
    from perfdoctor.demo.seed import ensure_seeded, is_seeded

    ui = Feedback.for_format("json" if quiet else "text", notes=True)
    database = (database or default_database()).absolute()
    if not is_seeded(database):
        started = time.perf_counter()
        with ui.working(f"Seeding the demo database {database}") as say:
            ensure_seeded(database, say)
        ui.done(f"Seeded the demo database in {time.perf_counter() - started:.1f} s")
    before = _stored(traces)
    paths = request_paths(rounds, SIZES["authors"])
    with tempfile.TemporaryDirectory(prefix="perfdoctor-demo-") as scratch:
        server = _Server(traces, database, Path(scratch))
        try:
            with ui.working("Starting the demo app under perfdoctor capture"):
                port = server.wait_until_listening()
            ui.done(f"Demo app listening on http://{HOST}:{port}/")
            _request_all(server, port, paths, ui)
        except BaseException:
            # The first failure is the one to report; stopping is best effort.
            with suppress(DemoError):
                server.stop()
            raise
        with ui.working("Stopping the demo app and writing its traces"):
            server.stop()
        _check_traces(server, traces, before, len(paths))
    ui.done(f"Captured {len(paths)} requests into {traces}")


def _require_demo_dependencies() -> None:
    try:
        import aiosqlite  # noqa: F401
        import asgiref  # noqa: F401  (Flask's async views)
        import flask  # noqa: F401
        import requests  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        raise DemoError(
            f"the demo app needs Flask (with async views), SQLAlchemy, requests and aiosqlite "
            f"({exc}); "
            "install them with: pip install 'perfdoctor[demo]'"
        ) from None


def _stored(traces: Path) -> int:
    try:
        return store.count_traces(traces) if traces.exists() else 0
    except StoreError:
        return 0


def _check_traces(server: _Server, traces: Path, before: int, requests: int) -> None:
    try:
        written = store.count_traces(traces) - before
    except StoreError as exc:
        raise DemoError(f"the demo app wrote no traces ({exc}); {server.tail()}") from None
    if written < requests:
        raise DemoError(
            f"the demo app served {requests} requests but only {written} traces reached "
            f"{traces}; {server.tail()}"
        )


def _request_all(
    server: _Server, port: int, paths: list[tuple[str, str]], ui: Feedback
) -> None:
    # No proxy: a proxy set in the environment must not see requests to 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with ui.counting("Requesting every endpoint", len(paths), steps="Requesting") as advance:
        for path, user in paths:
            # An area's endpoint may name its method: "POST /responses/...".
            method, _, target = path.rpartition(" ")
            advance(0, step=f"{method or 'GET'} {target}")
            _get(opener, server, f"http://{HOST}:{port}{target}", user, method or "GET")
            advance()
    ui.done(f"Requested {len(paths)} pages")


def _get(
    opener: urllib.request.OpenerDirector,
    server: _Server,
    url: str,
    user: str,
    method: str = "GET",
) -> None:
    headers = {"Authorization": areas.authorization(user)}
    data = None
    if method != "GET":
        headers["Content-Type"] = "application/json"
        data = b"{}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with opener.open(request, timeout=REQUEST_TIMEOUT) as response:
            json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise DemoError(f"{method} {url} answered {exc.code}; {server.tail()}") from None
    except (OSError, ValueError) as exc:
        raise DemoError(f"{method} {url} failed: {exc}; {server.tail()}") from None


class _Server:
    """``python -m perfdoctor.demo.serve`` as a child process under capture."""

    def __init__(self, traces: Path, database: Path, scratch: Path) -> None:
        self.port_file = scratch / "port"
        self.log_path = scratch / "server.log"
        self._log: IO[bytes] = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        command = [
            sys.executable,
            "-m",
            "perfdoctor.demo.serve",
            "--db",
            str(database),
            "--port-file",
            str(self.port_file),
            "--quiet",
        ]
        try:
            self.process = subprocess.Popen(
                command,
                # With --memory: the demo shows the whole catalogue, high-memory included.
                env=capture_environment(traces, memory=True),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C reaches us, and we stop it gracefully.
                start_new_session=True,
            )
        except OSError as exc:
            self._log.close()
            raise DemoError(f"cannot start the demo app: {exc}") from None

    def wait_until_listening(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise DemoError(f"the demo app exited with code {code} on start; {self.tail()}")
            port = self._port()
            if port is not None and self._accepts(port):
                return port
            time.sleep(0.05)
        raise DemoError(f"the demo app did not listen within {START_TIMEOUT:.0f} s; {self.tail()}")

    def _port(self) -> int | None:
        try:
            return int(self.port_file.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None

    @staticmethod
    def _accepts(port: int) -> bool:
        try:
            with socket.create_connection((HOST, port), timeout=1.0):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM, as a supervisor would; the app's atexit handlers write the traces."""
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(timeout=STOP_TIMEOUT)
                    raise DemoError(
                        f"the demo app did not stop within {STOP_TIMEOUT:.0f} s of SIGTERM "
                        f"and was killed; its last traces are lost; {self.tail()}"
                    ) from None
        finally:
            self._log.close()
        code = self.process.returncode
        if code != 0:
            raise DemoError(f"the demo app exited with code {code}; {self.tail()}")

    def tail(self, lines: int = 5, limit: int = 600) -> str:
        """The last lines the server printed, on one line."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
        if not kept:
            return "the server printed nothing"
        joined = " | ".join(kept)
        if len(joined) > limit:
            joined = "..." + joined[-limit:]
        return f"server output: {joined}"
