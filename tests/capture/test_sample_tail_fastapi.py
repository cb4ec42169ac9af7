"""``--sample-tail summary`` on the FastAPI inventory under uvicorn (sync SQLAlchemy): a
request the head draw left out records nothing; a drawn one finds the N+1 at its line."""

from __future__ import annotations

from pathlib import Path

from tests.capture.apps_support import (
    FASTAPI_APP,
    app_env,
    assert_n_plus_one,
    console_script,
    finding_at,
    get_ok,
    load,
    seed,
)
from tests.conftest import free_port, report_json, serve_under_perfdoctor

ITEMS = 15  # seed.py: one owner per item
REQUESTS = 12


def test_undrawn_requests_record_nothing_and_drawn_ones_find_the_n_plus_one(
    tmp_path: Path,
) -> None:
    env = app_env(
        INVENTORY_DATABASE_URL=f"sqlite:///{tmp_path / 'inventory.db'}",
        PERFDOCTOR_SAMPLE_SEED="5",
    )
    seed(FASTAPI_APP, env)
    # Every request counts as slow: the drawn ones are kept whole, the others as summaries.
    (tmp_path / "pyproject.toml").write_text("[tool.perfdoctor]\nsample_slow_ms = 0\n")
    traces = tmp_path / "traces.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [console_script("uvicorn"), "--app-dir", str(FASTAPI_APP), "app:app", "--port", str(port)]
    with serve_under_perfdoctor(
        command, traces, f"{base}/health", cwd=tmp_path, env=env,
        options=("--sample", "0.5", "--sample-tail", "summary"),
    ):
        for _ in range(REQUESTS):
            get_ok(f"{base}/items")

    pages = [t for t in load(traces) if t.name == "GET /items"]
    assert len(pages) == REQUESTS
    summaries = [t for t in pages if t.attrs["sample"].get("summary")]
    whole = [t for t in pages if t not in summaries]
    assert summaries and whole, [t.attrs["sample"] for t in pages]
    assert all(t.spans == [] and t.status == 200 for t in summaries)
    assert all(len(t.db_spans()) >= 1 + ITEMS for t in whole)

    report = report_json(traces, cwd=tmp_path)
    assert report["sampled"]["GET /items"]["summary"] == len(summaries)
    assert_n_plus_one(
        finding_at(report, "n-plus-one-query", "GET /items"), source=FASTAPI_APP / "app.py",
        marker="list_items", count=ITEMS, cwd=tmp_path, framework="sqlalchemy",
        function="list_items",
    )
