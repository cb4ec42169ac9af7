"""The database beyond N+1s: how much a query loads, how it pages, how it connects.

* ``/database/articles/export``: every article in one query with no LIMIT
  (``unbounded-query``);
* ``/database/articles/page?number=120``: page 120 by OFFSET, 2380 rows read
  and thrown away (``large-offset``);
* ``/database/authors/recent-titles``: 1000 whole articles, bodies and all,
  loaded to list their titles (``select-star``);
* ``/database/stats/comments``: 20,000 comment rows fetched to answer with two
  counts (``python-side-aggregation``);
* ``/database/stats/authors``: a new engine, so a new connection, per request
  (``no-connection-reuse``);
* ``/database/articles/bylines``: the latest titles with their authors,
  loaded with ``joinedload(Article.author)`` and ``selectinload(Article.tags)``
  although no tag is ever shown: a query per page for nothing
  (``unused-eager-load``);
* ``/database/authors/<id>/dashboard``: an async view (Flask runs ``async def``
  views with asgiref) that awaits three independent aiosqlite reports on one
  author one after another (``sequential-db``).

Each has a ``/fixed`` twin: a keyset page, ``load_only``, COUNT in SQL, the
app's engine, only the eager load that is read, ``asyncio.gather`` on three
connections.

``blocking-in-async`` is not shown here: Flask runs each async view on an
event loop of its own, for that one request, so a synchronous query there holds
up no other request.  area_async.py shows it where it does harm: one event loop
shared by every request.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import Engine, create_engine, distinct, func, select
from sqlalchemy.orm import joinedload, load_only, selectinload

from perfdoctor.demo.app import db
from perfdoctor.demo.models import Article, Author, Comment

ENDPOINTS = (
    "/database/articles/export",
    "/database/articles/export/fixed",
    "/database/articles/page?number=120",
    "/database/articles/page/fixed?after=2380",
    "/database/authors/recent-titles",
    "/database/authors/recent-titles/fixed",
    "/database/stats/comments",
    "/database/stats/comments/fixed",
    "/database/stats/authors",
    "/database/stats/authors/fixed",
    "/database/articles/bylines",
    "/database/articles/bylines/fixed",
    "/database/authors/{author_id}/dashboard",
    "/database/authors/{author_id}/dashboard/fixed",
)

PAGE_SIZE = 20
RECENT = 1000

blueprint = Blueprint("database", __name__, url_prefix="/database")


def _engine() -> Engine:
    engine: Engine = current_app.extensions["demo_sessions"].kw["bind"]
    return engine


# --- unbounded-query ---------------------------------------------------------


@blueprint.get("/articles/export")
def export_articles() -> Response:
    query = select(Article.id, Article.title).order_by(Article.id)
    rows = db().execute(query).all()  # unbounded-query: every row
    return jsonify(articles=[{"id": r.id, "title": r.title} for r in rows[:PAGE_SIZE]])


@blueprint.get("/articles/export/fixed")
def export_articles_fixed() -> Response:
    # The export streams a page at a time; the first page is what this answer needs.
    query = select(Article.id, Article.title).order_by(Article.id).limit(PAGE_SIZE)
    return jsonify(articles=[{"id": r.id, "title": r.title} for r in db().execute(query)])


# --- large-offset ----------------------------------------------------------


@blueprint.get("/articles/page")
def article_page() -> Response:
    number = request.args.get("number", 1, type=int)
    query = (
        select(Article.id, Article.title)
        .order_by(Article.id)
        .offset((number - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    rows = db().execute(query).all()  # large-offset: page by OFFSET
    return jsonify(articles=[{"id": r.id, "title": r.title} for r in rows], page=number)


@blueprint.get("/articles/page/fixed")
def article_page_fixed() -> Response:
    # Keyset: the client sends the last id it saw; the index finds the next page.
    after = request.args.get("after", 0, type=int)
    query = (
        select(Article.id, Article.title)
        .where(Article.id > after)
        .order_by(Article.id)
        .limit(PAGE_SIZE)
    )
    rows = db().execute(query).all()
    return jsonify(
        articles=[{"id": r.id, "title": r.title} for r in rows],
        next_after=rows[-1].id if rows else None,
    )


# --- select-star -----------------------------------------------------------


def _titles_by_author(articles: Any) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = defaultdict(list)
    for article in articles:
        grouped[article.author_id].append(article.title)
    return grouped


@blueprint.get("/authors/recent-titles")
def recent_titles() -> Response:
    query = select(Article).order_by(Article.published_at.desc()).limit(RECENT)
    articles = db().scalars(query).all()  # select-star: whole articles
    return jsonify(by_author=_titles_by_author(articles))


@blueprint.get("/authors/recent-titles/fixed")
def recent_titles_fixed() -> Response:
    query = (
        select(Article)
        .options(load_only(Article.author_id, Article.title))
        .order_by(Article.published_at.desc())
        .limit(RECENT)
    )
    return jsonify(by_author=_titles_by_author(db().scalars(query).all()))


# --- python-side-aggregation ---------------------------------------------


@blueprint.get("/stats/comments")
def comment_stats() -> Response:
    article_ids = db().scalars(select(Comment.article_id)).all()  # aggregation: in Python
    return jsonify(comments=len(article_ids), articles_with_comments=len(set(article_ids)))


@blueprint.get("/stats/comments/fixed")
def comment_stats_fixed() -> Response:
    query = select(func.count(Comment.id), func.count(distinct(Comment.article_id)))
    comments, articles = db().execute(query).one()
    return jsonify(comments=comments, articles_with_comments=articles)


# --- no-connection-reuse -----------------------------------------------------


@blueprint.get("/stats/authors")
def author_count() -> Response:
    # A new engine per request: its pool is thrown away with it, so every
    # request opens (and closes) its own connection.
    engine = create_engine(_engine().url)
    try:
        with engine.connect() as conn:  # no-connection-reuse: connect per request
            authors = conn.scalar(select(func.count(Author.id)))
    finally:
        engine.dispose()
    return jsonify(authors=authors)


@blueprint.get("/stats/authors/fixed")
def author_count_fixed() -> Response:
    # The app's engine, made once at start-up: its pool hands out an open connection.
    return jsonify(authors=db().scalar(select(func.count(Author.id))))


# --- unused-eager-load -----------------------------------------------------


def _bylines(articles: Any) -> list[dict[str, Any]]:
    return [{"title": a.title, "author": a.author.name} for a in articles]


@blueprint.get("/articles/bylines")
def article_bylines() -> Response:
    # The options were copied from the article list, which shows tags; this page does not.
    query = (
        select(Article)
        .options(joinedload(Article.author), selectinload(Article.tags))
        .order_by(Article.published_at.desc())
        .limit(PAGE_SIZE)
    )
    articles = db().scalars(query).all()  # unused-eager-load: tags never read
    return jsonify(articles=_bylines(articles))


@blueprint.get("/articles/bylines/fixed")
def article_bylines_fixed() -> Response:
    # Only what the page reads: the authors, in the same query.
    query = (
        select(Article)
        .options(joinedload(Article.author))
        .order_by(Article.published_at.desc())
        .limit(PAGE_SIZE)
    )
    return jsonify(articles=_bylines(db().scalars(query).all()))


# --- sequential-db (an async view on aiosqlite) ------------------------------

# The dashboard's three reports on one author's commenters (whoever commented on
# their articles): each rescans comments once per commenter, through the
# unindexed comments.author_id of /stats/top-commenters.  Per author, so no two
# requests for different authors repeat a query: nothing here to cache.
_COMMENTERS = (
    "SELECT c.author_id FROM comments c JOIN articles ar ON ar.id = c.article_id"
    " WHERE ar.author_id = ?"
)
TOP_COMMENTERS = (
    "SELECT a.id, a.name, (SELECT count(*) FROM comments c WHERE c.author_id = a.id) AS n"
    f" FROM authors a WHERE a.id IN ({_COMMENTERS}) ORDER BY n DESC, a.id LIMIT 10"
)
LATEST_COMMENTERS = (
    "SELECT a.id, a.name, (SELECT max(c.created_at) FROM comments c WHERE c.author_id = a.id)"
    f" AS last FROM authors a WHERE a.id IN ({_COMMENTERS}) ORDER BY last DESC, a.id LIMIT 10"
)
WIDEST_READERS = (
    "SELECT a.id, a.name,"
    " (SELECT count(DISTINCT c.article_id) FROM comments c WHERE c.author_id = a.id) AS read"
    f" FROM authors a WHERE a.id IN ({_COMMENTERS}) ORDER BY read DESC, a.id LIMIT 10"
)

# aiosqlite connections, opened once and shared by requests: a connection is a
# thread of its own, not tied to the event loop of the request that opened it.
_async_connections: list[Any] = []
_async_lock = threading.Lock()


async def _connections(count: int) -> list[Any]:
    import aiosqlite

    with _async_lock:
        missing = count - len(_async_connections)
        path = _engine().url.database
    for _ in range(max(missing, 0)):
        conn = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True)
        with _async_lock:
            _async_connections.append(conn)
    return _async_connections[:count]


async def _rows(conn: Any, sql: str, author_id: int) -> list[list[Any]]:
    return [list(row) for row in await conn.execute_fetchall(sql, (author_id,))]


@blueprint.get("/authors/<int:author_id>/dashboard")
async def dashboard(author_id: int) -> Response:
    [conn] = await _connections(1)
    # Three independent reports, each awaited before the next one starts.
    top = await _rows(conn, TOP_COMMENTERS, author_id)  # sequential-db: first of three
    latest = await _rows(conn, LATEST_COMMENTERS, author_id)
    widest = await _rows(conn, WIDEST_READERS, author_id)
    return jsonify(top_commenters=top, latest_commenters=latest, widest_readers=widest)


@blueprint.get("/authors/<int:author_id>/dashboard/fixed")
async def dashboard_fixed(author_id: int) -> Response:
    first, second, third = await _connections(3)
    # One connection per report, all three in flight at once.
    top, latest, widest = await asyncio.gather(
        _rows(first, TOP_COMMENTERS, author_id),
        _rows(second, LATEST_COMMENTERS, author_id),
        _rows(third, WIDEST_READERS, author_id),
    )
    return jsonify(top_commenters=top, latest_commenters=latest, widest_readers=widest)
