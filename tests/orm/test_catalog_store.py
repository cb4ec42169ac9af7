"""Capture stores the app's ORM catalogs beside its traces, and loading gives them
back on every trace: real Django and SQLAlchemy scripts under ``perfdoctor run``."""

from __future__ import annotations

import sqlite3
import sys
from contextlib import closing
from pathlib import Path

from perfdoctor import store
from perfdoctor.capture.context import ActiveTrace
from perfdoctor.model import Trace
from perfdoctor.orm import stored
from perfdoctor.orm.catalog import Catalog
from tests.capture.apps_support import app_env
from tests.conftest import run_perfdoctor

SCRIPTS = Path(__file__).parent / "scripts"


def _run(traces: Path, script: str, *args: str, cwd: Path) -> list[Trace]:
    result = run_perfdoctor(
        "run", "--traces", str(traces), "--", sys.executable, str(SCRIPTS / script), *args,
        cwd=cwd, env=app_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return store.load_traces(traces)


def _stored_catalogs(traces: Path) -> list[str]:
    with sqlite3.connect(traces) as conn:
        return [row[0] for row in conn.execute("SELECT catalog FROM orm_catalogs")]


def _only(catalogs: tuple[Catalog, ...], framework: str) -> Catalog:
    [catalog] = [c for c in catalogs if c.framework == framework]
    return catalog


def test_django_script_traces_carry_the_models(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    loaded = _run(traces, "django_blog.py", cwd=tmp_path)
    [trace] = [t for t in loaded if t.name == "django_blog.py"]
    catalog = _only(trace.orm, "django")
    owner = catalog.models["blog.Post"].relation("owner")
    assert owner is not None and (owner.kind, owner.target) == ("fk", "blog.Profile")
    assert catalog.models["blog.Profile"].relation("user") is not None
    comments = catalog.models["blog.Post"].relation("comments")
    assert comments is not None and comments.query_name == "comment"
    # stored once, named by the trace
    assert len(_stored_catalogs(traces)) == 1
    assert isinstance(trace.attrs["orm"], list) and len(trace.attrs["orm"]) == 1


def test_sqlalchemy_script_traces_carry_the_mappers(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    loaded = _run(traces, "sa_blog.py", f"sqlite:///{tmp_path / 'blog.db'}", cwd=tmp_path)
    [trace] = [t for t in loaded if t.name == "sa_blog.py"]
    catalog = _only(trace.orm, "sqlalchemy")
    owner = catalog.models["tests.orm.sa_models.Post"].relation("owner")
    assert owner is not None and (owner.kind, owner.column) == ("fk", "owner_id")
    dynamic = catalog.models["tests.orm.sa_models.Category"].relation("posts")
    assert dynamic is not None and dynamic.lazy == "dynamic"
    assert not [c for c in trace.orm if c.framework == "django"]


def test_traces_of_one_process_share_one_parsed_catalog(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    _run(traces, "sa_blog.py", f"sqlite:///{tmp_path / 'blog.db'}", cwd=tmp_path)
    first, second = store.load_traces(traces), store.load_traces(traces)
    assert first[0].orm and first[0].orm[0] is second[0].orm[0]


def test_no_orm_no_catalog(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    [trace] = _run(traces, "no_orm.py", cwd=tmp_path)
    assert trace.orm == () and "orm" not in trace.attrs
    assert _stored_catalogs(traces) == []


def test_a_store_without_the_catalog_table_still_loads(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    _run(traces, "sa_blog.py", f"sqlite:///{tmp_path / 'blog.db'}", cwd=tmp_path)
    with sqlite3.connect(traces) as conn:  # as a store written before catalogs were kept
        conn.execute("DROP TABLE orm_catalogs")
    [trace] = store.load_traces(traces)
    assert trace.orm == () and trace.attrs["orm"]


def test_pytest_plugin_traces_carry_the_catalog() -> None:
    """The plugin converts a test's trace in memory: it gets the catalog too."""
    from sqlalchemy.orm import configure_mappers

    from perfdoctor.pytest_plugin import to_model
    from tests.orm import sa_models

    assert sa_models.Post
    configure_mappers()
    active = ActiveTrace("test_something", "test")
    active.finished = active.start
    trace = to_model(active)
    catalog = _only(trace.orm, "sqlalchemy")
    assert catalog.models["tests.orm.sa_models.User"].relation("posts") is not None
    assert to_model(active).orm[0] is trace.orm[0]


def test_catalogs_survive_rewriting_and_an_otlp_round_trip(tmp_path: Path) -> None:
    """``perfdoctor export otlp`` then ``import otlp`` keeps the models (fixes
    printed from imported traces name the same relations), under the same id."""
    traces = tmp_path / "traces.db"
    [captured] = _run(traces, "sa_blog.py", f"sqlite:///{tmp_path / 'blog.db'}", cwd=tmp_path)
    assert store.content_id(stored.catalog_json(captured.orm[0])) == captured.attrs["orm"][0]

    exported = tmp_path / "traces.jsonl"
    result = run_perfdoctor("export", "otlp", "--traces", str(traces), "-o", str(exported))
    assert result.returncode == 0, result.stderr
    again = tmp_path / "again.db"
    result = run_perfdoctor("import", "otlp", str(exported), "--traces", str(again))
    assert result.returncode == 0, result.stderr
    [imported] = store.load_traces(again)
    assert imported.attrs["orm"] == captured.attrs["orm"]
    assert [c.models for c in imported.orm] == [c.models for c in captured.orm]

    rewritten = tmp_path / "rewritten.db"
    with closing(store.open_for_writing(rewritten)) as conn:
        store.write_traces(conn, [captured])
    [back] = store.load_traces(rewritten)
    assert back.attrs["orm"] == captured.attrs["orm"] and back.orm == captured.orm
