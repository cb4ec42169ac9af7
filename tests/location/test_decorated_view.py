"""A view whose schema runs in a decorator (flask-apispec's @marshal_with, as on a
real Flask-SQLAlchemy app): no user frame is inside the loop and the view's
first line is a decorator, so the finding points at the line that makes the rows
the decorator dumps."""

from __future__ import annotations

from pathlib import Path

from perfdoctor.detectors._feeder import handler_site

VIEWS = '''\
def marshal_with(schema):
    return lambda view: view


@marshal_with("articles")
def get_articles(tag=None, limit=20):
    res = Article.query
    if tag:
        res = res.filter(Article.tag == tag)
    return res.limit(limit).all()


@marshal_with("comments")
def get_comments(slug):
    article = Article.query.filter_by(slug=slug).first()
    if not article:
        raise LookupError(slug)
    return article.comments


@marshal_with("tags")
def get_tags():
    return [t.name for t in Tag.query.all()]
'''


def _site(path: Path, function: str) -> int:
    lines = path.read_text().splitlines()
    decorator = next(
        n for n, line in enumerate(lines, 1) if line.startswith("@") and f"def {function}(" in lines[n]
    )
    found = handler_site({"path": str(path), "line": decorator, "function": function})
    assert found is not None
    return found.line


def test_the_query_the_returned_rows_chain_on(tmp_path: Path) -> None:
    views = tmp_path / "views.py"
    views.write_text(VIEWS)
    assert _site(views, "get_articles") == 7  # res = Article.query, not the decorator


def test_a_relation_of_one_object_is_loaded_at_the_return(tmp_path: Path) -> None:
    views = tmp_path / "views.py"
    views.write_text(VIEWS)
    # Not the article lookup: the comments are article.comments, loaded where returned.
    assert _site(views, "get_comments") == 18


def test_a_query_made_in_the_return(tmp_path: Path) -> None:
    views = tmp_path / "views.py"
    views.write_text(VIEWS)
    assert _site(views, "get_tags") == 23
