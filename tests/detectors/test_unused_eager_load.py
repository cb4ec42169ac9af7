"""unused-eager-load on real Django and SQLAlchemy models, captured as an app runs them."""

from __future__ import annotations

import copy
import gc
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from marshmallow import Schema, fields
from sqlalchemy import Engine, ForeignKey, String, create_engine, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
    subqueryload,
)

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.detectors import all_detectors
from perfdoctor.model import Finding, Trace
from perfdoctor.settings import Settings
from tests.inprocess import capturing, load

DETECTOR = "unused-eager-load"
HERE = Path(__file__).resolve().parent
DJANGO_CASES = HERE / "eager_django.py"


def _findings(traces: Path) -> list[Finding]:
    return [f for f in analyze(load(traces), Settings()).findings if f.id == DETECTOR]


def _line(source: Path, marker: str) -> int:
    lines = source.read_text(encoding="utf-8").splitlines()
    [line] = [n for n, text in enumerate(lines, start=1) if text.endswith(f"# line: {marker}")]
    return line


def _by_endpoint(found: list[Finding], endpoint: str) -> list[Finding]:
    return sorted((f for f in found if f.endpoint == endpoint), key=lambda f: f.title)


# --- Django -----------------------------------------------------------------


@pytest.fixture(scope="module")
def django_found(tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    traces = tmp_path_factory.mktemp("eager-django") / "traces.db"
    result = subprocess.run(
        [sys.executable, str(DJANGO_CASES), str(traces)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return _findings(traces)


def _at(finding: Finding, marker: str) -> None:
    assert finding.location is not None
    assert Path(finding.location.path).resolve() == DJANGO_CASES
    assert finding.location.line == _line(DJANGO_CASES, marker)


def test_django_select_related_never_accessed(django_found: list[Finding]) -> None:
    [finding] = _by_endpoint(django_found, "select_related_unused")
    _at(finding, "select_related_unused")
    assert finding.evidence["written"] == 'select_related("author")'
    assert finding.evidence["relation"] == "author"
    assert finding.evidence["model"] == "blog.Article"
    assert finding.evidence["rows"] == 20
    assert finding.evidence["framework"] == "django"
    assert finding.severity == "warning"
    assert finding.fix.startswith('Remove "author" from select_related(...)')


def test_django_prefetch_related_never_read(django_found: list[Finding]) -> None:
    comments, tags = _by_endpoint(django_found, "prefetch_unused")
    for finding, name, related in ((tags, "tags", 30), (comments, "comments", 20)):
        _at(finding, "prefetch_unused")
        assert finding.evidence["written"] == f'prefetch_related("{name}")'
        assert finding.evidence["rows"] == 20
        assert finding.evidence["related_rows"] == related
        # The prefetch's own query is what the load costs.
        assert finding.evidence["extra_queries"] == 1
        assert finding.evidence["extra_query_ms"] > 0
        assert f'Remove "{name}" from prefetch_related(...)' in finding.fix


def test_django_a_collection_read_often_is_used_and_its_sibling_still_unused(
    django_found: list[Finding],
) -> None:
    [finding] = _by_endpoint(django_found, "prefetch_one_read_often")
    _at(finding, "prefetch_one_read_often")
    assert finding.evidence["written"] == 'prefetch_related("tags")'


def test_django_prefetch_object_and_a_single_get(django_found: list[Finding]) -> None:
    [prefetch] = _by_endpoint(django_found, "prefetch_object_unused")
    _at(prefetch, "prefetch_object_unused")
    assert prefetch.evidence["written"] == 'Prefetch("tags", queryset=...)'
    [get] = _by_endpoint(django_found, "get_unused")
    _at(get, "get_unused")
    assert get.evidence["rows"] == 1
    assert get.severity == "info"


def test_django_nested_lookup_is_judged_by_its_first_level(django_found: list[Finding]) -> None:
    [finding] = _by_endpoint(django_found, "nested_prefetch_outer_unused")
    _at(finding, "nested_prefetch_outer_unused")
    assert finding.evidence["written"] == 'prefetch_related("articles__tags")'
    assert finding.evidence["rows"] == 5


def test_django_select_related_branch_is_removed_whole(django_found: list[Finding]) -> None:
    """select_related("article", "article__author"): the deeper path joins article
    too, so the fix that removes only "article" would change nothing."""
    [finding] = _by_endpoint(django_found, "nested_select_related_unused")
    _at(finding, "nested_select_related_unused")
    assert 'Remove "article" and "article__author" from select_related(...)' in finding.fix


def test_django_drf_view_points_at_the_view(django_found: list[Finding]) -> None:
    # Evaluated inside DRF: the site's last frame above it, the view's get().
    [finding] = _by_endpoint(django_found, "GET /drf/titles/")
    _at(finding, "drf_view")
    assert finding.evidence["written"] == 'select_related("author")'
    assert finding.evidence["rows"] == 20


@pytest.mark.parametrize(
    "endpoint",
    [
        "select_related_used_on_one_row",
        "prefetch_used",
        "reverse_single_prefetch_used",
        "used_in_template",
        "used_in_serializer",
        "no_eager_load",
    ],
)
def test_django_loads_read_somewhere_are_not_reported(
    django_found: list[Finding], endpoint: str
) -> None:
    assert _by_endpoint(django_found, endpoint) == []


# --- SQLAlchemy ---------------------------------------------------------------


class Base(DeclarativeBase):
    """Tables of their own: models of other test modules live in the same process,
    and one table name mapped twice is ambiguous to the fixes' model lookup."""


class Writer(Base):
    __tablename__ = "eager_writers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    posts: Mapped[list[Post]] = relationship(back_populates="writer")


class Post(Base):
    __tablename__ = "eager_posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80))
    writer_id: Mapped[int] = mapped_column(ForeignKey("eager_writers.id"))
    writer: Mapped[Writer] = relationship(back_populates="posts")
    notes: Mapped[list[Note]] = relationship(back_populates="post")


class Note(Base):
    __tablename__ = "eager_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("eager_posts.id"))
    text: Mapped[str] = mapped_column(String(80))
    post: Mapped[Post] = relationship(back_populates="notes")


class NoteSchema(Schema):
    text = fields.String()


class PostSchema(Schema):
    title = fields.String()
    notes = fields.List(fields.Nested(NoteSchema))


POSTS = 12


@contextmanager
def seeded(traces: Path) -> Iterator[Engine]:
    """Capture into ``traces`` with a seeded database (its connection opened under capture)."""
    with capturing(traces):
        engine = _engine()
        yield engine
        engine.dispose()


def _engine() -> Engine:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        writers = [Writer(name=f"w{i}") for i in range(3)]
        session.add_all(
            Post(title=f"p{i}", writer=writers[i % 3], notes=[Note(text="n")]) for i in range(POSTS)
        )
        session.commit()
    return engine


def _sa_at(finding: Finding, line: int) -> None:
    assert finding.location is not None
    assert Path(finding.location.path).resolve() == Path(__file__).resolve()
    assert finding.location.line == line


def test_sqlalchemy_joinedload_and_selectinload_never_read(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with (
        seeded(traces) as engine,
        perfdoctor.trace("GET /posts", "http"),
        Session(engine) as session,
    ):
        query = select(Post).options(joinedload(Post.writer), selectinload(Post.notes))
        posts = session.scalars(query).unique().all()
        line = sys._getframe().f_lineno - 1
        assert [p.title for p in posts]
    writer, notes = _by_endpoint(_findings(traces), "GET /posts")
    for finding in (notes, writer):
        _sa_at(finding, line)
        assert finding.evidence["rows"] == POSTS
        assert finding.evidence["framework"] == "sqlalchemy"
        assert finding.evidence["model"] == "Post"
    assert writer.evidence["written"] == "joinedload(Post.writer)"
    assert "extra_queries" not in writer.evidence  # a JOIN: no query of its own
    assert writer.fix.startswith("Remove joinedload(Post.writer) from the statement's .options(")
    assert notes.evidence["written"] == "selectinload(Post.notes)"
    assert notes.evidence["extra_queries"] == 1
    assert notes.evidence["extra_query_ms"] > 0


def test_sqlalchemy_legacy_query_subqueryload(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    with (
        seeded(traces) as engine,
        perfdoctor.trace("GET /legacy", "http"),
        Session(engine) as session,
    ):
        posts = session.query(Post).options(subqueryload(Post.notes)).all()
        line = sys._getframe().f_lineno - 1
        assert len(posts) == POSTS
    [finding] = _findings(traces)
    _sa_at(finding, line)
    assert finding.evidence["written"] == "subqueryload(Post.notes)"
    assert finding.evidence["extra_queries"] == 1


def test_sqlalchemy_loads_read_on_one_row_or_by_a_schema_are_not_reported(
    tmp_path: Path,
) -> None:
    traces = tmp_path / "t.db"
    with seeded(traces) as engine:
        with perfdoctor.trace("GET /one-row", "http"), Session(engine) as session:
            query = select(Post).options(joinedload(Post.writer), selectinload(Post.notes))
            posts = session.scalars(query).unique().all()
            assert posts[0].writer.name and posts[-1].notes
        with perfdoctor.trace("GET /schema", "http"), Session(engine) as session:
            posts = session.scalars(select(Post).options(selectinload(Post.notes))).all()
            assert PostSchema(many=True).dump(posts)
        with perfdoctor.trace("GET /plain", "http"), Session(engine) as session:
            assert [p.title for p in session.scalars(select(Post))]
        with perfdoctor.trace("GET /chained", "http"), Session(engine) as session:
            # Only the first link is judged: the writers are read, their posts are not.
            query = select(Post).options(joinedload(Post.writer).selectinload(Writer.posts))
            assert {p.writer.name for p in session.scalars(query).unique()}
    assert _findings(traces) == []


def test_sqlalchemy_read_in_one_request_of_the_endpoint_is_in_use(
    tmp_path: Path,
) -> None:
    traces = tmp_path / "t.db"
    with seeded(traces) as engine:
        for include in (False, True, False):
            with perfdoctor.trace("GET /posts", "http"), Session(engine) as session:
                posts = session.scalars(select(Post).options(joinedload(Post.writer))).all()
                names = [p.writer.name for p in posts] if include else []
                assert len(names) in (0, POSTS)
    assert _findings(traces) == []


def test_sqlalchemy_relationship_loads_name_their_relation_on_their_query(
    tmp_path: Path,
) -> None:
    # One span per query (the N+1 of lazy loads is the common case): the relation
    # rides on the loader's own db span, which unused-eager-load reads.
    traces = tmp_path / "t.db"
    with seeded(traces) as engine:
        with perfdoctor.trace("GET /lazy", "http"), Session(engine) as session:
            posts = session.scalars(select(Post).order_by(Post.id)).all()
            assert all(len(post.notes) == 1 for post in posts)
        with perfdoctor.trace("GET /selectin", "http"), Session(engine) as session:
            assert session.scalars(select(Post).options(selectinload(Post.notes))).all()
    traces_by_name = {trace.name: trace for trace in load(traces)}
    lazy = traces_by_name["GET /lazy"].spans
    assert [s.kind for s in lazy] == ["db"] * (1 + POSTS)
    assert lazy[0].attrs.get("relation") is None
    assert {s.attrs.get("relation") for s in lazy[1:]} == {"Post.notes"}
    selectin = [s for s in traces_by_name["GET /selectin"].spans if s.kind == "db"]
    assert [s.attrs.get("relation") for s in selectin] == [None, "Post.notes"]


def test_a_store_of_many_requests_is_read_without_keeping_them(tmp_path: Path) -> None:
    """The detector reads a store as it comes: every request with an eager load
    counts, none is kept (a Wagtail site's 3,000 requests once held 187 MB)."""
    traces = tmp_path / "t.db"
    with (
        seeded(traces) as engine,
        perfdoctor.trace("GET /posts", "http"),
        Session(engine) as session,
    ):
        posts = session.scalars(select(Post).options(selectinload(Post.notes))).all()
        assert [p.title for p in posts]
    [request] = load(traces)
    [detector] = [d for d in all_detectors() if d.id == DETECTOR]
    session_ = detector.session(Settings())

    def live() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if type(o) is Trace)

    before = live()
    many = []
    for n in range(60):
        twin = copy.deepcopy(request)
        twin.id = f"{request.id}-{n}"
        many.append(twin)
    session_.feed(many)
    del many, twin
    assert live() == before
    [finding] = session_.findings()
    assert finding.evidence["requests_affected"] == 60
    assert finding.evidence["written"] == "selectinload(Post.notes)"
    [alone] = [f for f in analyze([request], Settings()).findings if f.id == DETECTOR]
    # Sixty copies of one request: the same means as the request alone.
    assert finding.evidence["extra_query_ms"] == alone.evidence["extra_query_ms"]
    assert finding.trace_id == f"{request.id}-0"
