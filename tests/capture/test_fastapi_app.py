"""The FastAPI inventory (sync SQLAlchemy, sync endpoints) under ``perfdoctor run -- uvicorn``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.capture.apps_support import (
    FASTAPI_APP,
    app_env,
    assert_n_plus_one,
    console_script,
    endpoint,
    finding_at,
    get_ok,
    load,
    seed,
    sqlalchemy_postgres,
)
from tests.conftest import findings, free_port, get, report_json, serve_under_perfdoctor

ITEMS = 15  # seed.py: one owner per item
APP_FILE = FASTAPI_APP / "app.py"


def _run(tmp_path: Path, database_url: str, system: str) -> None:
    env = app_env(INVENTORY_DATABASE_URL=database_url)
    seed(FASTAPI_APP, env)
    traces = tmp_path / "traces.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [console_script("uvicorn"), "app:app", "--port", str(port)]
    with serve_under_perfdoctor(command, traces, f"{base}/health", cwd=FASTAPI_APP, env=env):
        for _ in range(2):
            get_ok(f"{base}/items")
            get_ok(f"{base}/items/fixed")
        for item_id in (1, 2, 3):
            get_ok(f"{base}/items/{item_id}")
        assert get(f"{base}/items/999")[0] == 404
        get_ok(f"{base}/owners/4")
    # uvicorn shuts down gracefully on SIGTERM, so every trace is written.

    report = report_json(traces, cwd=tmp_path)
    n_plus_one = finding_at(report, "n-plus-one-query", "GET /items")
    assert_n_plus_one(
        n_plus_one, source=APP_FILE, marker="list_items", count=ITEMS, cwd=tmp_path,
        framework="sqlalchemy", function="list_items",
    )
    assert "owners" in n_plus_one["evidence"]["statement"]
    assert "items" in n_plus_one["evidence"]["parent_statement"]
    assert n_plus_one["evidence"]["system"] == system

    assert not findings(report, "n-plus-one-query", "GET /items/fixed")
    assert not findings(report, "duplicate-query", "GET /items/fixed")

    names = {e["name"] for e in report["endpoints"]}
    # FastAPI's {item_id} and Starlette's typed {owner_id:int} both become plain templates.
    assert {"GET /items", "GET /items/fixed", "GET /items/{item_id}", "GET /owners/{owner_id}"} <= (
        names
    )
    assert not [name for name in names if re.search(r"/\d|:int", name)], names
    assert endpoint(report, "GET /items/{item_id}")["requests"] == 4

    spans = [s for t in load(traces) if t.name.startswith("GET /items") for s in t.db_spans()]
    assert spans
    assert {s.framework for s in spans} == {"sqlalchemy"}
    assert {s.system for s in spans} == {system}
    assert all("params" not in s.attrs for s in spans)
    # The sync endpoints run in a worker thread; their queries still belong to the request.
    functions = {s.location.function for s in spans if s.location is not None}
    assert {"list_items", "list_items_fixed", "get_item"} <= functions


def test_uvicorn_on_sqlite(tmp_path: Path) -> None:
    _run(tmp_path, f"sqlite:///{tmp_path / 'inventory.db'}", "sqlite")


@pytest.mark.postgres
def test_uvicorn_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    _run(tmp_path, sqlalchemy_postgres(postgres_url), "postgresql")
