"""Fixtures for the Django capture tests: the test site on each database, migrated and seeded.

The site lives in ``tests/apps/django_site``; settings pick the database from
``PD_DB`` and friends.  Seeding runs under plain Python (not under perfdoctor), as a
user would prepare their database before starting the server to observe.
"""

from __future__ import annotations

import ast
import contextlib
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from perfdoctor import store
from perfdoctor.errors import StoreError
from perfdoctor.model import Trace
from tests.conftest import APPS, free_port, get, serve_under_perfdoctor

SITE = APPS / "django_site"
VIEWS = SITE / "blog" / "views.py"
PAGE_SIZE = 20  # blog.views.PAGE_SIZE: articles on the /articles/ page


def views_line(function: str, text: str) -> int:
    """The line of ``function`` in the site's views.py that contains ``text``."""
    source = VIEWS.read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            lines = source.splitlines()
            for number in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                if text in lines[number - 1]:
                    return number
    raise AssertionError(f"no line with {text!r} in {function}() of {VIEWS}")


def in_views(path: str) -> bool:
    """A report or store path (relative to the site, or absolute) is the site's views.py."""
    return (SITE / path).resolve() == VIEWS.resolve()


@dataclass
class DjangoSite:
    """The test site on one database: how to start it under perfdoctor and read what it stored."""

    env: dict[str, str]
    traces: Path
    secret_slug: str

    def seed(self) -> None:
        result = subprocess.run(
            [sys.executable, "manage.py", "seed", "--secret-slug", self.secret_slug],
            cwd=SITE, env=self.env, capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    @contextlib.contextmanager
    def serve(self, command: Sequence[str], port: int) -> Iterator[str]:
        """Run ``command`` (which listens on ``port``) under ``perfdoctor run``; yields its URL."""
        base = f"http://127.0.0.1:{port}"
        with serve_under_perfdoctor(
            command, self.traces, f"{base}/health/", cwd=SITE, env=self.env
        ):
            yield base

    def runserver(self, port: int) -> list[str]:
        return [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]

    def drive(self, base: str, paths: Sequence[str]) -> None:
        """GET each path; every one must answer 200."""
        for path in paths:
            status, body = get(base + path)
            assert status == 200, f"GET {path} answered {status}: {body[:2000]!r}"

    def wait_for_traces(self, expected: dict[str, int], timeout: float = 30.0) -> list[Trace]:
        """Poll the store until it holds at least ``expected[name]`` traces of each name.

        Traces are written by a background thread shortly after each response, so
        the test waits for them before it stops the server.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                loaded = store.load_traces(self.traces)
            except (StoreError, sqlite3.DatabaseError):
                loaded = []
            have = Counter(t.name for t in loaded)
            if all(have[name] >= count for name, count in expected.items()):
                return loaded
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the store did not receive {expected} within {timeout}s; it has {dict(have)}"
                )
            time.sleep(0.05)

    def store_bytes(self) -> bytes:
        """The raw bytes of the trace store, its WAL and shared-memory files included."""
        parts = [self.traces.parent / (self.traces.name + s) for s in ("", "-wal", "-shm")]
        return b"".join(p.read_bytes() for p in parts if p.exists())


def _site(tmp_path: Path, settings: dict[str, str]) -> DjangoSite:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("PERFDOCTOR_", "PD_")) and k != "DJANGO_SETTINGS_MODULE"
    }
    env.update(settings)
    site = DjangoSite(env, tmp_path / "traces.db", f"pd-secret-{uuid.uuid4().hex}")
    site.seed()
    return site


@pytest.fixture
def django_sqlite(tmp_path: Path) -> DjangoSite:
    return _site(tmp_path, {"PD_DB": "sqlite", "PD_SQLITE_PATH": str(tmp_path / "site.sqlite3")})


@pytest.fixture
def django_postgres(tmp_path: Path, postgres_url: str) -> DjangoSite:
    return _site(tmp_path, {"PD_DB": "postgres", "PD_POSTGRES_URL": postgres_url})


@pytest.fixture
def django_mysql(tmp_path: Path, mysql_database: dict[str, Any]) -> DjangoSite:
    return _site(
        tmp_path,
        {
            "PD_DB": "mysql",
            "PD_MYSQL_HOST": str(mysql_database["host"]),
            "PD_MYSQL_PORT": str(mysql_database["port"]),
            "PD_MYSQL_USER": str(mysql_database["user"]),
            "PD_MYSQL_PASSWORD": str(mysql_database["password"]),
            "PD_MYSQL_DATABASE": str(mysql_database["database"]),
        },
    )


@pytest.fixture
def port() -> int:
    return free_port()
