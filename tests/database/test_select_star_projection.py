"""select-star tells an ORM's whole-object load from a hand-picked projection."""

from __future__ import annotations

from perfdoctor.detectors.select_star import SelectStar
from perfdoctor.model import Location, Span, Trace
from perfdoctor.settings import Settings

SITE = Location("/app/views.py", 42, "report")


def _trace(statement: str) -> Trace:
    span = Span(
        kind="db", start_ms=0.0, duration_ms=5.0, location=SITE, stack=[SITE],
        framework="sqlalchemy", system="sqlite", statement=statement, fingerprint="f", rows=2000,
    )
    return Trace(id="t", name="GET /reports", kind="http", started_at=0.0, duration_ms=10.0, spans=[span])


def test_whole_objects_with_a_wide_column_fire() -> None:
    statement = (
        "SELECT articles.id, articles.title, articles.body, articles.author_id FROM articles"
    )
    found = list(SelectStar().visit(_trace(statement), Settings()))
    assert [f.id for f in found] == ["select-star"]
    assert found[0].evidence["wide_columns"] == ["body"]
    assert found[0].location == SITE


def test_a_projection_that_names_two_columns_does_not_fire() -> None:
    # load_only / select(Article.published_at, Article.body): the code asked for these.
    statement = "SELECT articles.published_at, articles.body FROM articles"
    assert list(SelectStar().visit(_trace(statement), Settings())) == []
