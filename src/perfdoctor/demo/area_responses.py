"""Responses and endpoints: what the blog sends back, and how long it makes people wait.

* ``/responses/articles``: every article in one JSON list (``missing-pagination``);
* ``/responses/tags``: the same tag cloud sent again and again with no caching
  headers, and ``/responses/me/reading-list``: one user's data marked
  ``Cache-Control: public`` (``missing-http-cache``);
* ``/responses/reports/trending-words``: a report computed in Python on every
  request (``slow-endpoint``);
* ``/responses/reports/activity-chart``: a print-size chart of articles per
  author drawn whole in memory (``high-memory``, seen because ``perfdoctor audit`` captures with
  ``--memory``);
* ``POST /responses/authors/<id>/follow``: the request waits for the mail API to
  accept a notification (``background-job-candidate``).

Each has a ``/fixed`` twin: a keyset page, Cache-Control and an ETag, ``private``,
only the weeks reported read once each, a chart drawn in strips, a job queue.
"""

from __future__ import annotations

import queue
import random
import re
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import func, select
from werkzeug.wrappers import Response as WerkzeugResponse

from perfdoctor.demo import areas
from perfdoctor.demo.app import db
from perfdoctor.demo.models import SIZES, Article, Tag, article_tags

ENDPOINTS = (
    "/responses/articles",
    "/responses/articles/fixed",
    # The tag cloud is on every page of the blog: requested twice per round.
    "/responses/tags",
    "/responses/tags",
    "/responses/tags/fixed",
    "/responses/tags/fixed",
    "/responses/me/reading-list",
    "/responses/me/reading-list/fixed",
    "/responses/reports/trending-words",
    "/responses/reports/trending-words/fixed",
    "/responses/reports/activity-chart",
    "/responses/reports/activity-chart/fixed",
    "POST /responses/authors/{author_id}/follow",
    "POST /responses/authors/{author_id}/follow/fixed",
)

PAGE_SIZE = 50
TOP_WORDS = 10
# The trending report covers this many weeks at least and at most (~33 articles a week).
MIN_WEEKS, MAX_WEEKS = 4, 24
# The chart: print size, 4 bytes a pixel (about 126 MB whole).
CHART_WIDTH, CHART_HEIGHT, STRIP_ROWS = 7_000, 4_500, 256
# The mail API's answer time: a remote service accepting a message.
MAIL_DELAY_S = 0.3
# How long the trending report should take on this machine (see setup).
REPORT_TARGET_S = 0.6
TIMEOUT = (3.05, 10.0)
WORD = re.compile(r"[a-z]{4,}")

blueprint = Blueprint("responses", __name__, url_prefix="/responses")


# --- the stand-in for a mail API, and the app's job queue ------------------------


class _MailApi(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(MAIL_DELAY_S)
        body = b'{"queued": true}'
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def setup(app: Flask) -> None:
    """Start the mail API and the job worker; precompute the report; size its work."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MailApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="demo-mail-api", daemon=True).start()
    app.config["MAIL_API"] = f"http://127.0.0.1:{server.server_address[1]}/messages"
    jobs: queue.Queue[dict[str, Any]] = queue.Queue()
    app.extensions["demo_jobs"] = jobs
    mail_api = app.config["MAIL_API"]
    threading.Thread(target=_worker, args=(jobs, mail_api), name="demo-jobs", daemon=True).start()
    app.config["TRENDING_WEEKS"] = _report_weeks()


def _worker(jobs: queue.Queue[dict[str, Any]], mail_api: str) -> None:
    # In production: a Celery or RQ worker, another process that retries failures.
    while True:
        message = jobs.get()
        try:
            requests.post(mail_api, json=message, timeout=TIMEOUT)
        except requests.RequestException:
            pass


# --- missing-pagination ----------------------------------------------------------


def _summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "author_id": row.author_id,
        "published_at": row.published_at.isoformat(),
    }


@blueprint.get("/articles")
def all_articles() -> Response:
    query = select(Article.id, Article.title, Article.author_id, Article.published_at)
    # Every article, however many there are: the answer grows with the table.
    return jsonify([_summary(row) for row in db().execute(query.order_by(Article.id))])


@blueprint.get("/articles/fixed")
def articles_page() -> Response:
    # A keyset page: the client follows `next` for more.
    after = request.args.get("after", 0, type=int)
    query = (
        select(Article.id, Article.title, Article.author_id, Article.published_at)
        .where(Article.id > after)
        .order_by(Article.id)
        .limit(PAGE_SIZE)
    )
    rows = [_summary(row) for row in db().execute(query)]
    following = f"/responses/articles/fixed?after={rows[-1]['id']}" if rows else None
    return jsonify(items=rows, next=following)


# --- missing-http-cache -------------------------------------------------------


def _tag_cloud() -> list[dict[str, Any]]:
    query = (
        select(Tag.name, func.count(article_tags.c.article_id).label("articles"))
        .join(article_tags, article_tags.c.tag_id == Tag.id)
        .group_by(Tag.id)
        .order_by(Tag.name)
    )
    return [{"tag": row.name, "articles": row.articles} for row in db().execute(query)]


@blueprint.get("/tags")
def tags() -> Response:
    # The same cloud for everyone, recomputed and resent in full every time.
    return jsonify(_tag_cloud())


@blueprint.get("/tags/fixed")
def tags_fixed() -> WerkzeugResponse:
    response = jsonify(_tag_cloud())
    # The same for every user: shared caches may keep it for five minutes, and a
    # client holding it revalidates with If-None-Match and gets a 304.
    response.cache_control.public = True
    response.cache_control.max_age = 300
    response.add_etag()
    return response.make_conditional(request)


def _reading_list() -> Response:
    user = areas.user_of(request.headers.get("Authorization")) or "guest"
    author_id = 1 + areas.USERS.index(user) if user in areas.USERS else 1
    query = (
        select(Article.id, Article.title)
        .where(Article.author_id == author_id)
        .order_by(Article.published_at.desc())
        .limit(10)
    )
    rows = [{"id": row.id, "title": row.title} for row in db().execute(query)]
    return jsonify(user=user, reading_list=rows)


@blueprint.get("/me/reading-list")
def reading_list() -> Response:
    response = _reading_list()
    # One user's list, but "public": a CDN would hand it to the next user.
    response.cache_control.public = True
    response.cache_control.max_age = 60
    return response


@blueprint.get("/me/reading-list/fixed")
def reading_list_fixed() -> Response:
    response = _reading_list()
    response.cache_control.private = True
    response.cache_control.max_age = 60
    response.vary.add("Authorization")
    return response


# --- slow-endpoint -------------------------------------------------------------


def _words(body: str) -> list[str]:
    return WORD.findall(body.lower())


def _latest() -> Any:
    return db().scalar(select(func.max(Article.published_at)))


@blueprint.get("/reports/trending-words")
def trending_words() -> Response:
    weeks = current_app.config["TRENDING_WEEKS"]
    latest = _latest()
    query = select(Article.published_at, Article.body).order_by(Article.published_at)
    articles = db().execute(query).all()
    report = []
    for week in range(weeks):
        start, end = latest - timedelta(weeks=week + 1), latest - timedelta(weeks=week)
        counts: Counter[str] = Counter()
        # Every article of the blog is read and split again for every week.
        for published_at, body in articles:
            words = _words(body)
            if start < published_at <= end:
                counts.update(words)
        report.append({"week": week, "top": counts.most_common(TOP_WORDS)})
    return jsonify(weeks=weeks, report=report)


@blueprint.get("/reports/trending-words/fixed")
def trending_words_fixed() -> Response:
    weeks = current_app.config["TRENDING_WEEKS"]
    latest = _latest()
    # Only the weeks reported, filtered by the database; each article split once.
    query = select(Article.published_at, Article.body).where(
        Article.published_at > latest - timedelta(weeks=weeks)
    )
    per_week: list[Counter[str]] = [Counter() for _ in range(weeks)]
    for published_at, body in db().execute(query):
        week = min(int((latest - published_at) / timedelta(weeks=1)), weeks - 1)
        per_week[week].update(_words(body))
    report = [
        {"week": week, "top": counts.most_common(TOP_WORDS)} for week, counts in enumerate(per_week)
    ]
    return jsonify(weeks=weeks, report=report)


def _report_weeks() -> int:
    """How many weeks the report covers: sized so the slow version takes about
    REPORT_TARGET_S on this machine (capture's own overhead included), whatever
    the hardware, so the finding shows without making ``make demo`` crawl."""
    rng = random.Random(7)
    vocabulary = [f"word{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}" for i in range(400)]
    corpus = [" ".join(rng.choices(vocabulary, k=110)) for _ in range(SIZES["articles"])]
    started = time.perf_counter()
    for body in corpus:
        _words(body)
    one_pass = max(time.perf_counter() - started, 1e-4)
    return max(MIN_WEEKS, min(MAX_WEEKS, round(REPORT_TARGET_S / one_pass)))


# --- high-memory -------------------------------------------------------------


def _articles_per_author() -> list[int]:
    query = select(func.count(Article.id)).group_by(Article.author_id).order_by(Article.author_id)
    return list(db().scalars(query))


def _bar_rows(counts: list[int]) -> list[tuple[int, bytes]]:
    """One horizontal bar per author: (its first pixel row, one row of its pixels)."""
    most = max(counts, default=1) or 1
    band = CHART_HEIGHT // max(len(counts), 1)
    ink, paper = b"\x20\x60\xc0\xff", b"\xff\xff\xff\xff"
    rows = []
    for index, count in enumerate(counts):
        length = CHART_WIDTH * count // most
        rows.append((index * band, ink * length + paper * (CHART_WIDTH - length)))
    return rows


@blueprint.get("/reports/activity-chart")
def activity_chart() -> Response:
    bars = _bar_rows(_articles_per_author())
    band = CHART_HEIGHT // max(len(bars), 1)
    row_bytes = CHART_WIDTH * 4
    canvas = bytearray(CHART_HEIGHT * row_bytes)  # the whole chart in memory
    for top, pixels in bars:
        for y in range(top, top + band - 1):
            canvas[y * row_bytes : (y + 1) * row_bytes] = pixels
    inked = len(canvas) - canvas.count(b"\xff\xff\xff\xff") * 4
    return jsonify(width=CHART_WIDTH, height=CHART_HEIGHT, bytes=len(canvas), inked_bytes=inked)


@blueprint.get("/reports/activity-chart/fixed")
def activity_chart_fixed() -> Response:
    bars = _bar_rows(_articles_per_author())
    band = CHART_HEIGHT // max(len(bars), 1)
    row_bytes = CHART_WIDTH * 4
    size = inked = 0
    # One strip of rows at a time, the way a streaming PNG encoder takes them.
    for strip_top in range(0, CHART_HEIGHT, STRIP_ROWS):
        rows = min(STRIP_ROWS, CHART_HEIGHT - strip_top)
        strip = bytearray(rows * row_bytes)
        # Bytes left as paper: counted per bar row rather than by scanning the
        # strip, so the twin stays far under the endpoint budget on a busy machine.
        paper = 0
        for top, pixels in bars:
            drawn = range(max(top, strip_top), min(top + band - 1, strip_top + rows))
            for y in drawn:
                offset = (y - strip_top) * row_bytes
                strip[offset : offset + row_bytes] = pixels
            paper += len(drawn) * pixels.count(b"\xff\xff\xff\xff") * 4
        size += len(strip)
        inked += len(strip) - paper
    return jsonify(width=CHART_WIDTH, height=CHART_HEIGHT, bytes=size, inked_bytes=inked)


# --- background-job-candidate ----------------------------------------------------

_followers: dict[int, set[str]] = {}


def _follow(author_id: int) -> dict[str, Any]:
    user = areas.user_of(request.headers.get("Authorization")) or "guest"
    _followers.setdefault(author_id, set()).add(user)
    return {"template": "new-follower", "author_id": author_id, "follower": user}


@blueprint.post("/authors/<int:author_id>/follow")
def follow(author_id: int) -> Response:
    message = _follow(author_id)
    # The request waits while the mail API accepts the notification.
    requests.post(current_app.config["MAIL_API"], json=message, timeout=TIMEOUT)
    return jsonify(following=author_id)


@blueprint.post("/authors/<int:author_id>/follow/fixed")
def follow_fixed(author_id: int) -> Response:
    # The worker sends it; the answer does not wait (Celery: notify.delay(...)).
    current_app.extensions["demo_jobs"].put(_follow(author_id))
    return jsonify(following=author_id, notification="queued")
