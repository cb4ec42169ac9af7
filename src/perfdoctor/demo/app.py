"""The demo blog: a Flask app on SQLAlchemy 2 with three classic bottlenecks.

Each slow endpoint has a ``/fixed`` twin that answers the same question the
way it should be done, so a report can show the problem and the proof of its
fix side by side:

* ``GET /articles``: an N+1, relationships lazy-loaded inside a loop;
* ``GET /authors/<id>``: the same author row loaded again by every helper;
* ``GET /stats/top-commenters``: a correlated subquery that rescans every
  comment once per author.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, jsonify
from sqlalchemy import URL, create_engine, func, select
from sqlalchemy.orm import Session, joinedload, selectinload, sessionmaker

from perfdoctor.demo import areas
from perfdoctor.demo.models import Article, Author, Comment

PAGE_SIZE = 30
RECENT = 5
LEADERBOARD_SIZE = 10

blog = Blueprint("blog", __name__)


def create_app(database: Path) -> Flask:
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    engine = create_engine(URL.create("sqlite", database=str(database.absolute())))
    app.extensions["demo_sessions"] = sessionmaker(engine, expire_on_commit=False)
    app.register_blueprint(blog)
    for area in areas.load():
        app.register_blueprint(area.blueprint)
        setup = getattr(area, "setup", None)
        if setup is not None:
            setup(app)
    app.teardown_appcontext(_close_session)
    app.register_error_handler(404, _not_found)
    return app


def db() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = current_app.extensions["demo_sessions"]()
    session: Session = g.db
    return session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def _not_found(error: Exception) -> tuple[Response, int]:
    return jsonify(error=str(error)), 404


@blog.get("/")
def index() -> Response:
    return jsonify(
        endpoints=[
            "/articles",
            "/articles/fixed",
            "/authors/<id>",
            "/authors/<id>/fixed",
            "/stats/top-commenters",
            "/stats/top-commenters/fixed",
        ]
    )


# --- N+1 -------------------------------------------------------------------


def latest_articles() -> Any:
    return select(Article).order_by(Article.published_at.desc()).limit(PAGE_SIZE)


@blog.get("/articles")
def list_articles() -> Response:
    articles = db().scalars(latest_articles()).all()
    summaries = []
    for article in articles:
        # Neither relationship was loaded with the articles, so touching them
        # here lazy-loads each one: two more queries per article (the N+1).
        author, tags = article.author, article.tags
        summaries.append(
            {
                "id": article.id,
                "title": article.title,
                "published_at": article.published_at.isoformat(),
                "author": author.name,
                "tags": [tag.name for tag in tags],
            }
        )
    return jsonify(articles=summaries)


@blog.get("/articles/fixed")
def list_articles_fixed() -> Response:
    # The authors come in the same query (a JOIN), the tags in one more
    # (SELECT ... WHERE article_id IN (...)): two queries whatever the page size.
    query = latest_articles().options(joinedload(Article.author), selectinload(Article.tags))
    articles = db().scalars(query).unique().all()
    summaries = []
    for article in articles:
        summaries.append(
            {
                "id": article.id,
                "title": article.title,
                "published_at": article.published_at.isoformat(),
                "author": article.author.name,
                "tags": [tag.name for tag in article.tags],
            }
        )
    return jsonify(articles=summaries)


# --- duplicate queries ------------------------------------------------------


def get_author(session: Session, author_id: int) -> Author:
    """The author with this id, or a 404."""
    author = session.scalars(select(Author).where(Author.id == author_id)).one_or_none()
    if author is None:
        abort(404, description=f"no author with id {author_id}")
    return author


def profile_of(author: Author) -> dict[str, Any]:
    return {
        "id": author.id,
        "name": author.name,
        "email": author.email,
        "bio": author.bio,
        "joined_at": author.joined_at.isoformat(),
    }


def stats_of(session: Session, author: Author) -> dict[str, int]:
    articles = session.scalar(select(func.count(Article.id)).where(Article.author_id == author.id))
    comments = session.scalar(select(func.count(Comment.id)).where(Comment.author_id == author.id))
    return {"articles": articles or 0, "comments": comments or 0}


def recent_articles_of(session: Session, author: Author) -> list[dict[str, Any]]:
    query = (
        select(Article.id, Article.title)
        .where(Article.author_id == author.id)
        .order_by(Article.published_at.desc())
        .limit(RECENT)
    )
    return [{"id": row.id, "title": row.title} for row in session.execute(query)]


# Convenience wrappers by id, the way service layers grow: each one is handy on
# its own, but each loads the author again.
def author_stats(session: Session, author_id: int) -> dict[str, int]:
    return stats_of(session, get_author(session, author_id))


def author_recent_articles(session: Session, author_id: int) -> list[dict[str, Any]]:
    return recent_articles_of(session, get_author(session, author_id))


def author_display_name(session: Session, author_id: int) -> str:
    return get_author(session, author_id).name.upper()


@blog.get("/authors/<int:author_id>")
def show_author(author_id: int) -> Response:
    session = db()
    # Four helpers, four identical `SELECT ... FROM authors WHERE id = ?`.
    return jsonify(
        profile=profile_of(get_author(session, author_id)),
        display_name=author_display_name(session, author_id),
        stats=author_stats(session, author_id),
        recent_articles=author_recent_articles(session, author_id),
    )


@blog.get("/authors/<int:author_id>/fixed")
def show_author_fixed(author_id: int) -> Response:
    session = db()
    # Load the author once and hand the object to every helper.
    author = get_author(session, author_id)
    return jsonify(
        profile=profile_of(author),
        display_name=author.name.upper(),
        stats=stats_of(session, author),
        recent_articles=recent_articles_of(session, author),
    )


# --- slow query ------------------------------------------------------------


@blog.get("/stats/top-commenters")
def top_commenters() -> Response:
    # A correlated subquery: SQLite runs the COUNT once per author, and with no
    # index on comments.author_id each run scans the whole comments table.
    comment_count = (
        select(func.count(Comment.id))
        .where(Comment.author_id == Author.id)
        .correlate(Author)
        .scalar_subquery()
        .label("comments")
    )
    query = (
        select(Author.id, Author.name, comment_count)
        .order_by(comment_count.desc(), Author.id)
        .limit(LEADERBOARD_SIZE)
    )
    return jsonify(top_commenters=[row._asdict() for row in db().execute(query)])


@blog.get("/stats/top-commenters/fixed")
def top_commenters_fixed() -> Response:
    # The same answer in one pass over the comments, grouped by commenter.
    comment_count = func.count(Comment.id).label("comments")
    query = (
        select(Author.id, Author.name, comment_count)
        .join(Comment, Comment.author_id == Author.id)
        .group_by(Author.id)
        .order_by(comment_count.desc(), Author.id)
        .limit(LEADERBOARD_SIZE)
    )
    return jsonify(top_commenters=[row._asdict() for row in db().execute(query)])
