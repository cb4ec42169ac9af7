"""Shared fixtures: real services, free ports, and running commands under ``perfdoctor run``.

A test that needs PostgreSQL, MariaDB or Redis skips on a machine without it,
but fails when ``CI`` is set: a skipped database test in CI is a test that did
not run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

POSTGRES_ADMIN_URL = os.environ.get("PERFDOCTOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_HOST = os.environ.get("PERFDOCTOR_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("PERFDOCTOR_TEST_MYSQL_PORT", "3306"))
REDIS_URL = os.environ.get("PERFDOCTOR_TEST_REDIS", "redis://127.0.0.1:6379/0")

APPS = Path(__file__).parent / "apps"

# Under pytest-xdist (make test) each file goes whole to a worker when that worker
# is free, in collection order: the longest file (thousands of forks, about 90 s on
# a 2-CPU machine) starts first rather than ending the run alone on one worker.
FIRST = ("tests/reliability/test_fork_safety.py::",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(FIRST))


def _missing(service: str, reason: str) -> None:
    message = f"{service} is not reachable ({reason}); start it as DEVELOPERS.md says"
    if os.environ.get("CI"):
        pytest.fail(f"CI: {message}", pytrace=False)
    pytest.skip(message)


@contextlib.contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[str]:
    """Serve ``server`` (bound to a free port of 127.0.0.1) from a daemon thread;
    yields ``http://127.0.0.1:PORT`` and shuts it down afterwards."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _port_open(host: str, port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


@contextlib.contextmanager
def fresh_postgres_database(name: str) -> Iterator[str]:
    """A new, empty PostgreSQL database called ``name``: its URL; dropped on exit.

    Shared by the per-test fixture and the module-scoped ones that build a
    workload once (tests/advisor).
    """
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - test extras always install it
        _missing("PostgreSQL driver", str(exc))
        raise
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _missing("PostgreSQL", str(exc).strip().splitlines()[0])
        raise
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with fresh_postgres_database(f"pd_{uuid.uuid4().hex[:12]}") as url:
        yield url


@contextlib.contextmanager
def fresh_mysql_database(name: str) -> Iterator[dict[str, Any]]:
    """A new MariaDB/MySQL database called ``name``: connection settings as a dict;
    dropped on exit."""
    import pymysql

    try:
        admin = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="", connect_timeout=3)
    except pymysql.err.OperationalError as exc:
        _missing("MariaDB", str(exc))
        raise
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    admin.close()
    try:
        yield {"host": MYSQL_HOST, "port": MYSQL_PORT, "user": "root", "password": "", "database": name}
    finally:
        admin = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="")
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@pytest.fixture
def mysql_database() -> Iterator[dict[str, Any]]:
    """A fresh MariaDB/MySQL database for one test: connection settings as a dict."""
    with fresh_mysql_database(f"pd_{uuid.uuid4().hex[:12]}") as params:
        yield params


def require_redis() -> str:
    """Redis's URL; skips (fails in CI) when it does not listen. For module-scoped fixtures."""
    if not _port_open("127.0.0.1", 6379):
        _missing("Redis", "nothing listens on 127.0.0.1:6379")
    return REDIS_URL


@pytest.fixture
def redis_url() -> str:
    return require_redis()


# Each pytest-xdist worker hands out ports from its own block below Linux's
# ephemeral range (32768 up). A port the kernel picks (bind to 0) and releases can
# be picked again at once for another worker's server: a server that then failed to
# bind left the test talking to the other worker's app. Where in its block a worker
# starts depends on its process id, so two test runs at once seldom meet either.
_PORT_BLOCK = 1000
_PORTS_FROM = 20000
_next_port = os.getpid() % _PORT_BLOCK


def free_port() -> int:
    global _next_port
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    block = int(worker) if worker.isdigit() else 0
    first = _PORTS_FROM + (block % 12) * _PORT_BLOCK
    for _ in range(_PORT_BLOCK):
        port = first + _next_port
        _next_port = (_next_port + 1) % _PORT_BLOCK
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {first}..{first + _PORT_BLOCK - 1}")


def perfdoctor_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "perfdoctor", *args]


def run_perfdoctor(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                   timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        perfdoctor_cmd(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def report_json(traces: Path, cwd: Path | None = None) -> dict[str, Any]:
    result = run_perfdoctor("report", "--traces", str(traces), "--format", "json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def findings(report: dict[str, Any], detector: str, endpoint: str | None = None) -> list[dict[str, Any]]:
    return [
        f for f in report["findings"]
        if f["id"] == detector and (endpoint is None or f["endpoint"] == endpoint)
    ]


def wait_http(url: str, timeout: float = 30.0, process: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            out = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"server exited with {process.returncode} before answering:\n{out}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                response.read()
                return
        except urllib.error.HTTPError:
            return  # it answers, even if with an error status
        except Exception as exc:
            last = exc
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout}s: {last}")


def get(url: str, timeout: float = 30.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@contextlib.contextmanager
def serve_under_perfdoctor(
    command: Sequence[str], traces: Path, url: str, cwd: Path, env: dict[str, str] | None = None,
    timeout: float = 60.0, options: Sequence[str] = (),
) -> Iterator[subprocess.Popen[str]]:
    """Start ``perfdoctor run [OPTIONS] --traces TRACES -- COMMAND`` and wait until ``url`` answers.

    On exit the server is stopped with SIGTERM (as a supervisor would) and its
    output is checked for tracebacks from perfdoctor.
    """
    full_env = dict(os.environ if env is None else env)
    process = subprocess.Popen(
        perfdoctor_cmd("run", *options, "--traces", str(traces), "--", *command),
        cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        wait_http(url, timeout=timeout, process=process)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        output = process.stdout.read() if process.stdout else ""
        process.captured_output = output  # type: ignore[attr-defined]
        assert "perfdoctor: could not instrument" not in output, output


@pytest.fixture(scope="session")
def shared_demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One run of the whole demo for the demo-area and HTML-report tests."""
    from tests.demo.support import run_shared

    return run_shared(tmp_path_factory.mktemp("demo-shared"))


# Debian's Chromium (scripts/ensure-browser.sh), not a browser Playwright downloads.
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium through Playwright, one per test module."""
    if not CHROMIUM.exists():
        # A skipped browser test in CI is a test that did not run: there it fails.
        message = f"{CHROMIUM} is missing: `make test` (scripts/ensure-browser.sh) installs it"
        if os.environ.get("CI"):
            pytest.fail(f"CI: {message}", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # No sandbox when the tests run as root.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()
