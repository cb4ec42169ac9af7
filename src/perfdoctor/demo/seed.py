"""Fill a demo database with thousands of deterministic rows, fast.

Rows come from ``random.Random(42)``, so every seeded file holds the same
data.  The file is written under a temporary name and moved into place once
complete: a crash or a concurrent run never leaves a half-seeded database.
"""

from __future__ import annotations

import os
import random
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import URL, create_engine, event, insert
from sqlalchemy.orm import Session

from perfdoctor.demo import DemoError
from perfdoctor.demo.models import (
    SEED_VERSION,
    SIZES,
    Article,
    Author,
    Base,
    Comment,
    Tag,
    article_tags,
    demo_meta,
)

Report = Callable[[str], None]
Rows = list[dict[str, Any]]


def _words(text: str) -> list[str]:
    return text.split()


_FIRST = _words(
    "Ada Alan Barbara Claude Donald Edsger Frances Grace Guido Hedy Ian John Ken Linus "
    "Margaret Niklaus Radia Rob Sophie Tim"
)
_LAST = _words(
    "Allen Backus Cerf Dijkstra Hamilton Hopper Kay Knuth Lamport Liskov Lovelace McCarthy "
    "Perlman Ritchie Rossum Thompson Torvalds Turing Wilson Wirth"
)
_TAGS = _words(
    "python django flask fastapi sqlalchemy postgres sqlite mysql redis caching indexes "
    "performance profiling testing ci docker kubernetes linux networking http apis graphql "
    "async threads queues celery kafka security auth oauth logging metrics tracing "
    "observability deployment scaling sharding replication backups migrations orm sql "
    "design refactoring typing packaging tooling debugging memory latency"
)
_WORDS = _words(
    "the a query index request response cache server client latency table row column "
    "join page list user data model view handler worker pool connection timeout retry "
    "batch loop plan scan cost budget measure fix slow fast because when then while after "
    "before every each many one more less again still only really quite we you it this that"
)

# Fixed dates keep the data identical from one seeding to the next.
_EPOCH = datetime(2024, 1, 1, 8, 0, 0)

_PRAGMAS = ("PRAGMA journal_mode = OFF", "PRAGMA synchronous = OFF")


def _read_only_uri(path: Path) -> str:
    return path.absolute().as_uri() + "?mode=ro"


def is_seeded(path: Path) -> bool:
    """True when ``path`` is a demo database seeded by this version of the demo."""
    if not path.is_file() or path.stat().st_size == 0:
        return False
    try:
        with closing(sqlite3.connect(_read_only_uri(path), uri=True)) as conn:
            row = conn.execute("SELECT value FROM demo_meta WHERE key = 'seed_version'").fetchone()
    except sqlite3.DatabaseError:
        return False
    return row is not None and row[0] == SEED_VERSION


def _is_demo_database(path: Path) -> bool:
    try:
        with closing(sqlite3.connect(_read_only_uri(path), uri=True)) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError:
        return False
    return "demo_meta" in tables or not tables


def ensure_seeded(path: Path, report: Report | None = None) -> bool:
    """Seed ``path`` unless it already holds the demo data; True when it seeded."""
    if is_seeded(path):
        return False
    if path.is_dir():
        raise DemoError(f"the demo database {path} is a directory; choose a file path")
    if path.is_file() and path.stat().st_size > 0 and not _is_demo_database(path):
        raise DemoError(
            f"{path} exists and is not a perfdoctor demo database; "
            "move it away or choose another path"
        )
    temporary = path.with_name(f".{path.name}.{os.getpid()}.seeding")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.unlink(missing_ok=True)
        _seed(temporary, report or (lambda _: None))
        os.replace(temporary, path)
    except (OSError, sqlite3.Error) as exc:
        raise DemoError(f"cannot seed the demo database {path}: {exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)
    return True


def _seed(path: Path, report: Report) -> None:
    engine = create_engine(URL.create("sqlite", database=str(path)))

    @event.listens_for(engine, "connect")
    def _fast_writes(dbapi_connection: Any, _record: Any) -> None:
        # A throw-away file until it is complete: no journal, no fsync.
        for pragma in _PRAGMAS:
            dbapi_connection.execute(pragma)

    try:
        Base.metadata.create_all(engine)
        data = generate(random.Random(42))
        with Session(engine) as session, session.begin():
            for name, table in (
                ("authors", Author),
                ("tags", Tag),
                ("articles", Article),
                ("article_tags", article_tags),
                ("comments", Comment),
            ):
                report(f"seeding {len(data[name]):,} {name.replace('_', ' ')}")
                session.execute(insert(table), data[name])
            session.execute(insert(demo_meta), [{"key": "seed_version", "value": SEED_VERSION}])
    finally:
        engine.dispose()


def generate(rng: random.Random) -> dict[str, Rows]:
    """Every row of the demo database, drawn from ``rng``."""
    authors = _authors(rng, SIZES["authors"])
    tags = [{"id": i, "name": name} for i, name in enumerate(_TAGS[: SIZES["tags"]], start=1)]
    articles, links = _articles(rng, SIZES["articles"], len(authors), len(tags))
    comments = _comments(rng, SIZES["comments"], len(articles), len(authors))
    return {
        "authors": authors,
        "tags": tags,
        "articles": articles,
        "article_tags": links,
        "comments": comments,
    }


def _text(rng: random.Random, low: int, high: int) -> str:
    words = rng.choices(_WORDS, k=rng.randint(low, high))
    return " ".join(words).capitalize() + "."


def _authors(rng: random.Random, count: int) -> Rows:
    names = rng.sample([(f, last) for f in _FIRST for last in _LAST], count)
    return [
        {
            "id": i,
            "name": f"{first} {last}",
            "email": f"{first}.{last}@example.com".lower(),
            "bio": _text(rng, 10, 30),
            "joined_at": _EPOCH - timedelta(days=rng.randint(30, 2_000)),
        }
        for i, (first, last) in enumerate(names, start=1)
    ]


def _articles(rng: random.Random, count: int, authors: int, tags: int) -> tuple[Rows, Rows]:
    articles: Rows = []
    links: Rows = []
    published = _EPOCH
    for i in range(1, count + 1):
        published += timedelta(minutes=rng.randint(10, 600))
        articles.append(
            {
                "id": i,
                "author_id": rng.randint(1, authors),
                "title": _text(rng, 3, 8).rstrip("."),
                "body": _text(rng, 60, 160),
                "published_at": published,
            }
        )
        for tag_id in rng.sample(range(1, tags + 1), rng.randint(1, 4)):
            links.append({"article_id": i, "tag_id": tag_id})
    return articles, links


def _comments(rng: random.Random, count: int, articles: int, authors: int) -> Rows:
    # A few people write most comments, as on every real site.
    weights = [1.0 / rank for rank in range(1, authors + 1)]
    commenters = rng.choices(range(1, authors + 1), weights=weights, k=count)
    return [
        {
            "id": i,
            "article_id": rng.randint(1, articles),
            "author_id": author_id,
            "body": _text(rng, 5, 40),
            "created_at": _EPOCH + timedelta(minutes=rng.randint(0, 1_500_000)),
        }
        for i, author_id in enumerate(commenters, start=1)
    ]
