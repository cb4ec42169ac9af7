"""A finished trace waiting in the recorder's queue is out of the cyclic garbage
collector's view: its span tuples, their row counts and attribute dicts would
otherwise survive into the oldest generation and bring the app's full
collections on sooner (see ``untrack_spans`` in ``_speedups.c``)."""

from __future__ import annotations

import functools
import gc
import http.server
import os
import sqlite3
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest

import perfdoctor
from perfdoctor.capture import context, recorder
from tests.conftest import serving
from tests.inprocess import capturing_kept, load, seed_blog


@pytest.fixture
def compiled() -> None:
    if recorder._untrack_spans is None:
        if sys.version_info >= (3, 11) and os.environ.get("CI"):
            pytest.fail("perfdoctor._speedups was not built: pip install -e . compiles it")
        pytest.skip("perfdoctor._speedups is not built here")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    """A remote API on 127.0.0.1: a JSON file served by the standard library."""
    (tmp_path / "rates.json").write_text('{"ok": true}')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)) as url:
        yield f"{url}/rates.json"


def _request(traces: Path, url: str) -> context.ActiveTrace:
    """One request of reads (a page with OFFSET: an attribute dict on its span,
    rows fetched by a cursor: a running count, a Jinja2 template's loop: a
    trigger naming the template) and an outbound GET, captured into ``traces``;
    the finished trace as the recorder was handed it."""
    templates = traces.parent / "templates"
    templates.mkdir()
    (templates / "authors.html").write_text(
        "<ul>\n{% for id in ids %}\n  <li>{{ name_of(id) }}</li>\n{% endfor %}\n</ul>\n"
    )
    page = jinja2.Environment(loader=jinja2.FileSystemLoader(templates)).get_template(
        "authors.html"
    )
    with capturing_kept(traces) as handed:
        conn = sqlite3.connect(":memory:")
        seed_blog(conn, articles=30)
        with perfdoctor.trace("GET /articles", kind="http"):
            rows = conn.execute("SELECT id, author_id FROM article LIMIT 10 OFFSET 10")
            for _article_id, author_id in rows.fetchall():
                cursor = conn.execute("SELECT name FROM author WHERE id = ?", (author_id,))
                cursor.fetchone()
            page.render(
                ids=[1, 2, 3],
                name_of=lambda i: conn.execute(
                    "SELECT name FROM author WHERE id = ?", (i,)
                ).fetchone()[0],
            )
            with urllib.request.urlopen(url, timeout=10) as response:
                response.read()
        perfdoctor.flush()
    (trace,) = (t for t in handed if t.name == "GET /articles")
    return trace


def _owned(span: tuple[Any, ...]) -> list[object]:
    """The span tuple, its frames, and what only it holds: a db span's row count and
    attributes (a trigger's names among them), another span's attributes."""
    attributes = span[11] if span[0] == "db" else span[5]
    owned = [span, span[3], attributes, *(attributes or {}).values()]
    return [*owned, span[9]] if span[0] == "db" else owned


def test_a_queued_traces_spans_are_not_walked_by_the_collector(
    tmp_path: Path, api: str, compiled: None
) -> None:
    trace = _request(tmp_path / "traces.db", api)
    kinds = [span[0] for span in trace.spans]
    assert kinds.count("db") == 14 and "http" in kinds
    triggers = [span[11].get("trigger") for span in trace.spans if span[0] == "db" and span[11]]
    assert len([t for t in triggers if isinstance(t, tuple)]) == 3
    owned = [o for span in trace.spans for o in _owned(span) if isinstance(o, (tuple, list, dict))]
    # Each kind of object is there: span tuples, a row-count list, attribute dicts.
    assert {type(o) for o in owned} == {tuple, list, dict}
    assert [o for o in owned if gc.is_tracked(o)] == []
    assert not gc.is_tracked(trace.spans)

    # What was written is what it was: the page's offset, every lookup, the GET.
    (stored,) = load(tmp_path / "traces.db")
    reads = [s for s in stored.spans if s.kind == "db"]
    assert len(reads) == 14
    assert reads[0].attrs.get("offset") == 10
    assert {s.rows for s in reads} == {10, 1}
    named = [s.attrs["trigger"] for s in reads if "trigger" in s.attrs]
    assert [(t["kind"], t["template"], t["line"]) for t in named] == [
        ("jinja2-template", "authors.html", 3)
    ] * 3
    (get,) = [s for s in stored.spans if s.kind == "http"]
    assert get.attrs["url"].endswith("/rates.json") and get.attrs["status"] == 200


def test_without_the_compiled_module_the_spans_stay_tracked_and_are_written_the_same(
    tmp_path: Path, api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder, "_untrack_spans", None)
    trace = _request(tmp_path / "traces.db", api)
    assert gc.is_tracked(trace.spans)
    assert all(gc.is_tracked(span) for span in trace.spans)
    (stored,) = load(tmp_path / "traces.db")
    reads = [s for s in stored.spans if s.kind == "db"]
    assert len(reads) == 14 and reads[0].attrs.get("offset") == 10
