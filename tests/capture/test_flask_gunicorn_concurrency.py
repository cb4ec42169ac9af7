"""No trace is lost when gunicorn's workers and threads all write at once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.capture.apps_support import (
    FLASK_APP,
    app_env,
    get_many,
    gunicorn,
    load,
    seed,
)
from tests.conftest import free_port, serve_under_perfdoctor

REQUESTS = 300
ARTICLES = 12


def test_every_request_of_a_concurrent_burst_is_stored(tmp_path: Path) -> None:
    env = app_env(BLOG_DATABASE_URL=f"sqlite:///{tmp_path / 'blog.db'}")
    seed(FLASK_APP, env)
    traces = tmp_path / "traces.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = gunicorn(port, "-w", "2", "-k", "gthread", "--threads", "4")
    with serve_under_perfdoctor(command, traces, f"{base}/pid", cwd=FLASK_APP, env=env) as server:
        urls = [f"{base}/articles/{n % ARTICLES + 1}" for n in range(REQUESTS)]
        answers = get_many(urls, workers=24)
    # Stopped with SIGTERM right after the last answer, without waiting for the store.
    assert [status for status, _ in answers] == [200] * REQUESTS
    output = server.captured_output  # type: ignore[attr-defined]
    assert "Traceback" not in output, output

    stored = [t for t in load(traces) if t.name == "GET /articles/{id}"]
    assert len(stored) == REQUESTS
    assert len({t.id for t in stored}) == REQUESTS
    assert Counter(t.status for t in stored) == {200: REQUESTS}
    # Each request holds its own queries and no other request's: the article, its
    # author, its tags (plus, once per worker, SQLAlchemy's first-connect check).
    for trace in stored:
        statements = [s.statement or "" for s in trace.db_spans()]
        loads = [s for s in statements if s.startswith("SELECT")]
        assert len(loads) == 3, statements
        assert "FROM articles" in loads[0] and "FROM authors" in loads[1], statements
        assert "tags" in loads[2], statements
