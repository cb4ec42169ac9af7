"""Helpers for the end-to-end tests that run the sample apps under ``perfdoctor run``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from perfdoctor import store
from perfdoctor.errors import StoreError
from perfdoctor.model import Trace
from tests.conftest import APPS, get

FLASK_APP = APPS / "flask_app"
FASTAPI_APP = APPS / "fastapi_app"
SCRIPTS = APPS / "scripts"

WARNING = "perfdoctor: cannot write traces"


def console_script(name: str) -> str:
    """A console script (gunicorn, flask, uvicorn) of the interpreter running the tests."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    assert found, f"{name} is not installed"
    return found


def gunicorn(port: int, *options: str, app: str = "app:app") -> list[str]:
    """``gunicorn APP`` on 127.0.0.1:PORT.

    Recent gunicorn opens a control socket under the home folder by default;
    tests keep out of it.
    """
    from gunicorn import config

    command = [console_script("gunicorn"), app, "-b", f"127.0.0.1:{port}", *options]
    if hasattr(config, "ControlSocketDisable"):
        command.append("--no-control-socket")
    return command


def app_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PERFDOCTOR_TRACES", None)
    env.pop("PERFDOCTOR_ENABLED", None)
    env.update(extra)
    return env


def seed(app_dir: Path, env: dict[str, str]) -> None:
    """Run the app's seed step under plain Python, before the server starts."""
    result = subprocess.run(
        [sys.executable, "seed.py"], cwd=app_dir, env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def sqlalchemy_postgres(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def marker_line(path: Path, marker: str) -> int:
    """The line of ``path`` that carries the comment ``# marker``."""
    lines = [
        number for number, text in enumerate(path.read_text().splitlines(), start=1)
        if text.rstrip().endswith(f"# {marker}")
    ]
    assert len(lines) == 1, f"{marker!r} should mark exactly one line of {path}"
    return lines[0]


def resolve(path: str, cwd: Path) -> Path:
    """A report path (relative to where the report ran, or absolute) as a real path."""
    candidate = Path(path)
    return (candidate if candidate.is_absolute() else cwd / candidate).resolve()


def load(traces: Path) -> list[Trace]:
    try:
        return store.load_traces(traces)
    except StoreError:
        return []


def wait_for_traces(
    traces: Path, ready: Callable[[list[Trace]], bool], timeout: float = 20.0
) -> list[Trace]:
    """Poll the store until ``ready`` holds for its traces."""
    deadline = time.monotonic() + timeout
    loaded: list[Trace] = []
    while time.monotonic() < deadline:
        loaded = load(traces)
        if ready(loaded):
            return loaded
        time.sleep(0.05)
    names = sorted({t.name for t in loaded})
    raise AssertionError(f"traces not stored within {timeout}s; have {len(loaded)}: {names}")


def count_named(name: str, n: int) -> Callable[[list[Trace]], bool]:
    return lambda loaded: sum(t.name == name for t in loaded) >= n


def get_ok(url: str) -> bytes:
    status, body = get(url)
    assert status == 200, (url, status, body[:500])
    return body


def get_many(urls: list[str], workers: int = 16) -> list[tuple[int, bytes]]:
    """Send every request, ``workers`` at a time; the answers in order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(get, urls))


def finding_at(report: dict[str, Any], detector: str, endpoint: str) -> dict[str, Any]:
    found = [f for f in report["findings"] if f["id"] == detector and f["endpoint"] == endpoint]
    assert len(found) == 1, (detector, endpoint, report["findings"])
    return found[0]


def endpoint(report: dict[str, Any], name: str) -> dict[str, Any]:
    found = [e for e in report["endpoints"] if e["name"] == name]
    assert len(found) == 1, (name, [e["name"] for e in report["endpoints"]])
    return found[0]


def assert_n_plus_one(
    finding: dict[str, Any], *, source: Path, marker: str, count: int, cwd: Path,
    framework: str | None, function: str,
) -> None:
    """An N+1 finding points at the marked line, inside the marked loop."""
    location = finding["location"]
    assert resolve(location["path"], cwd) == source.resolve(), location
    assert location["line"] == marker_line(source, f"n+1: {marker}"), location
    assert location["function"] == function, location
    evidence = finding["evidence"]
    assert evidence["count"] == count, evidence
    assert evidence["framework"] == framework, evidence
    assert evidence["total_ms"] >= 0
    assert evidence["parent_statement"], evidence
    loop = evidence["loop"]
    assert loop is not None, evidence
    assert resolve(loop["path"], cwd) == source.resolve(), loop
    assert loop["line"] == marker_line(source, f"loop: {marker}"), loop
    if framework == "sqlalchemy":
        assert "joinedload" in finding["fix"] or "selectinload" in finding["fix"], finding["fix"]


def warning_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(WARNING)]
