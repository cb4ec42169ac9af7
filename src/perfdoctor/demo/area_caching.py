"""The demo's caching mistakes, on a real Redis, each with its ``/fixed`` twin.

* ``GET /caching/last-seen``: a per-user key written with no expiry, on every
  request (``cache-no-ttl``): one key per user ever seen, kept forever;
* ``GET /caching/profile``: the logged-in user's profile cached under a key
  with no user part, so the next user is served the first one's profile
  (``cache-shared-key``);
* ``GET /caching/trending-tags``: a ~40 ms aggregate over every comment, with
  the same answer for everyone, recomputed on every request
  (``cache-candidate``).

Redis is the one at ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``),
reached with a short connect timeout; the demo's keys start with
``perfdoctor-demo:`` and every key but the two ``last-seen`` ones expires.
Without a reachable Redis, or without redis-py installed (the ``redis``
extra), every endpoint here still answers 200, with ``{"cache": "unavailable"}``
where it needed Redis, so the demo runs on any machine.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import func, select

from perfdoctor.demo import areas
from perfdoctor.demo.app import db, profile_of
from perfdoctor.demo.models import Article, Author, Comment, Tag, article_tags

try:
    import redis
except ImportError:  # the `redis` extra is not installed
    redis = None  # type: ignore[assignment]

ENDPOINTS = (
    "/caching/last-seen",
    "/caching/last-seen/fixed",
    "/caching/profile",
    "/caching/profile/fixed",
    "/caching/trending-tags",
    "/caching/trending-tags/fixed",
)

PREFIX = "perfdoctor-demo:"
CONNECT_TIMEOUT = 0.25  # seconds: a missing Redis must not stall the demo's start
PROFILE_TTL = 60
TRENDING_TTL = 300
LAST_SEEN_TTL = 86_400
TRENDING_SIZE = 10
# The demo's logged-in users are authors of the blog.
AUTHOR_OF = {"alice": 1, "bob": 2}
UNAVAILABLE = {"cache": "unavailable"}

blueprint = Blueprint("caching", __name__)


def setup(app: Flask) -> None:
    """Connect to Redis once; without it the endpoints answer ``UNAVAILABLE``."""
    client: Any = None
    if redis is not None:
        url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        try:
            client = redis.Redis.from_url(
                url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=2.0
            )
            client.ping()
        except (redis.RedisError, OSError, ValueError):
            client = None
    app.extensions["demo_redis"] = client
    # Entries of one server run are its own: a profile cached by an earlier run
    # (or a demo running next to this one) must not answer this run's requests.
    app.extensions["demo_cache_prefix"] = f"{PREFIX}{os.getpid()}{secrets.token_hex(4)}:"


def _redis() -> Any:
    return current_app.extensions.get("demo_redis")


def _run_key(name: str) -> str:
    return f"{current_app.extensions['demo_cache_prefix']}{name}"


def _author_id() -> int:
    user = areas.user_of(request.headers.get("Authorization"))
    return AUTHOR_OF.get(user or "", 1)


def _profile(author_id: int) -> dict[str, Any]:
    author = db().get(Author, author_id)
    return profile_of(author) if author is not None else {"id": author_id}


# --- cache-no-ttl ----------------------------------------------------------


@blueprint.get("/caching/last-seen")
def last_seen() -> Response:
    client = _redis()
    if client is None:
        return jsonify(UNAVAILABLE)
    # One key per user, never expiring: every user who ever visits stays in Redis.
    client.set(f"{PREFIX}last-seen:{_author_id()}", int(time.time()))
    return jsonify(seen=True)


@blueprint.get("/caching/last-seen/fixed")
def last_seen_fixed() -> Response:
    client = _redis()
    if client is None:
        return jsonify(UNAVAILABLE)
    # The same write with an expiry: users who stop visiting disappear after a day.
    client.set(f"{PREFIX}last-seen-fixed:{_author_id()}", int(time.time()), ex=LAST_SEEN_TTL)
    return jsonify(seen=True)


# --- cache-shared-key ------------------------------------------------------


@blueprint.get("/caching/profile")
def my_profile() -> Response:
    client = _redis()
    if client is None:
        return jsonify(UNAVAILABLE)
    # The key names the page, not the user: whoever comes first fills it, and
    # everyone after them is served that first user's profile.
    key = _run_key("my-profile")
    entry = client.get(key)
    if entry is None:
        profile = _profile(_author_id())
        client.set(key, json.dumps(profile), ex=PROFILE_TTL)
    else:
        profile = json.loads(entry)
    return jsonify(profile=profile)


@blueprint.get("/caching/profile/fixed")
def my_profile_fixed() -> Response:
    client = _redis()
    if client is None:
        return jsonify(UNAVAILABLE)
    # The user's id is part of the key: each user has their own entry.
    author_id = _author_id()
    key = _run_key(f"my-profile:{author_id}")
    cached = client.get(key)
    if cached is None:
        profile = _profile(author_id)
        client.set(key, json.dumps(profile), ex=PROFILE_TTL)
    else:
        profile = json.loads(cached)
    return jsonify(profile=profile)


# --- cache-candidate -------------------------------------------------------


def _trending_tags() -> list[dict[str, Any]]:
    # Every comment joined to its article's tags: the same answer for everyone,
    # and it only changes when comments are written.
    comments = func.count(Comment.id).label("comments")
    query = (
        select(
            Tag.name,
            comments,
            func.count(func.distinct(Comment.author_id)).label("commenters"),
            func.sum(func.length(Comment.body)).label("characters"),
        )
        .join(article_tags, article_tags.c.tag_id == Tag.id)
        .join(Article, Article.id == article_tags.c.article_id)
        .join(Comment, Comment.article_id == Article.id)
        .group_by(Tag.id)
        .order_by(comments.desc())
        .limit(TRENDING_SIZE)
    )
    return [row._asdict() for row in db().execute(query)]


@blueprint.get("/caching/trending-tags")
def trending_tags() -> Response:
    return jsonify(tags=_trending_tags())


@blueprint.get("/caching/trending-tags/fixed")
def trending_tags_fixed() -> Response:
    client = _redis()
    if client is None:
        return jsonify(UNAVAILABLE)
    # Computed once, then read from Redis for five minutes.
    key = _run_key("trending-tags")
    cached = client.get(key)
    if cached is not None:
        return jsonify(tags=json.loads(cached))
    tags = _trending_tags()
    client.set(key, json.dumps(tags), ex=TRENDING_TTL)
    return jsonify(tags=tags)
