"""A small Flask + SQLAlchemy app whose scenarios are labelled N+1s and non-loops.

Run under ``perfdoctor run``: each scenario is one trace named ``"<label> <name>"``,
label ``n+1`` (a loop runs one query per row) or ``clean`` (repeats that are no
loop, or no loop over the parent's rows).  The tests in this folder and
benchmarks/n_plus_one_threshold.py read the same traces.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Column, ForeignKey, Table, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.pool import StaticPool

import perfdoctor


class Base(DeclarativeBase):
    pass


article_tag = Table(
    "article_tag",
    Base.metadata,
    Column("article_id", ForeignKey("article.id"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id"), primary_key=True),
)


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Tag(Base):
    __tablename__ = "tag"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Article(Base):
    __tablename__ = "article"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    status: Mapped[str]
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=article_tag)
    comments: Mapped[list[Comment]] = relationship(back_populates="article")


class Comment(Base):
    __tablename__ = "comment"
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"))
    article: Mapped[Article] = relationship(back_populates="comments")


ARTICLES = 20
STATUSES = ("draft", "review", "published")

engine = create_engine("sqlite://", poolclass=StaticPool)
Base.metadata.create_all(engine)
with Session(engine) as seed:
    tags = [Tag(name=f"tag{i}") for i in range(5)]
    for i in range(ARTICLES):
        # One author per article: every lazy load of an author is a query.
        article = Article(
            title=f"t{i}",
            status=STATUSES[i % 3],
            author=Author(name=f"a{i}"),
            tags=[tags[i % 5]],
            comments=[Comment(), Comment()],
        )
        seed.add(article)
    seed.commit()


def get_author(session: Session, author_id: int) -> Author | None:
    return session.get(Author, author_id)


def summarise(article: Article, work: int) -> dict[str, object]:
    """Per-row Python work, as a serializer or view does it (building objects)."""
    checksum = sum(i * i for i in range(work))
    return {"title": article.title, "author": article.author.name, "checksum": checksum}


# ---- true N+1s -------------------------------------------------------------


def rows(n: int) -> None:
    """A list of n articles, each loading its author: the parent returned n rows."""
    with Session(engine) as session, perfdoctor.trace(f"n+1 rows-{n}", "http"):
        for article in session.scalars(select(Article).limit(n)):
            print(article.author.name, end="")


def first_rows_of_a_page(n: int) -> None:
    """A page of 20 articles; only the first n load their author (a teaser)."""
    with Session(engine) as session, perfdoctor.trace(f"n+1 teaser-{n}", "http"):
        page = session.scalars(select(Article)).all()
        for article in page[:n]:
            print(article.author.name, end="")


def ids_loop(n: int) -> None:
    """A loop over ids from the request, one lookup each: no parent query."""
    with Session(engine) as session, perfdoctor.trace(f"n+1 ids-{n}", "http"):
        for author_id in range(1, n + 1):
            get_author(session, author_id)


def helper_in_a_loop(n: int) -> None:
    """The helper line of the negative case below, reached from one line in a loop."""
    with Session(engine) as session, perfdoctor.trace(f"n+1 helper-loop-{n}", "http"):
        for article in session.scalars(select(Article).limit(n)):
            get_author(session, article.author_id)


def per_row_work(name: str, work: int) -> None:
    """12 articles, each loading its author, with ``work`` of Python per row."""
    with Session(engine) as session, perfdoctor.trace(f"n+1 {name}", "http"):
        [summarise(a, work) for a in session.scalars(select(Article).limit(12))]


def sequence(n: int) -> None:
    """MN+1: for each article its author, its tags, and a count of its comments."""
    with Session(engine) as session, perfdoctor.trace(f"n+1 sequence-{n}", "http"):
        for article in session.scalars(select(Article).limit(n)):
            author = article.author.name
            tag_names = [t.name for t in article.tags]
            comments = session.scalar(
                select(func.count(Comment.id)).where(Comment.article_id == article.id)
            )
            print(author, tag_names, comments, end="")


# ---- no loop over the parent's rows ---------------------------------------


def helper_from_separate_lines() -> None:
    """The list, then five authors each fetched from a line of its own."""
    with Session(engine) as session, perfdoctor.trace("clean helper-lines", "http"):
        session.scalars(select(Article)).all()
        get_author(session, 1)
        get_author(session, 2)
        get_author(session, 3)
        get_author(session, 4)
        get_author(session, 5)


app = Flask(__name__)


@app.get("/user/<int:author_id>/")
def user(author_id: int) -> dict[str, object]:
    with Session(engine) as session:
        author = get_author(session, author_id)
        return {"name": author.name if author else None}


def requests_in_a_test(n: int) -> None:
    """A test making n requests to /user/<id>/, one row each: n requests, no loop."""
    client = app.test_client()
    with perfdoctor.trace(f"clean requests-{n}", "test"):
        for author_id in range(1, n + 1):
            assert client.get(f"/user/{author_id}/").status_code == 200


def pagination(pages: int) -> None:
    """A paged walk of the articles, 4 per page: each query reads many rows."""
    with Session(engine) as session, perfdoctor.trace(f"clean pages-{pages}", "http"):
        session.scalar(select(func.count(Article.id)))
        for page in range(pages):
            session.scalars(select(Article).order_by(Article.id).limit(4).offset(page * 4)).all()


def counts_per_status() -> None:
    """After a list of 20 rows, a count per status: a loop over constants, not rows."""
    with Session(engine) as session, perfdoctor.trace("clean status-counts", "http"):
        session.scalars(select(Article)).all()
        for status in STATUSES:
            session.scalar(select(func.count(Article.id)).where(Article.status == status))


def compare_pair() -> None:
    """After a list, two authors side by side on one line: two calls, no loop."""
    with Session(engine) as session, perfdoctor.trace("clean compare-pair", "http"):
        session.scalars(select(Article)).all()
        left, right = get_author(session, 1), get_author(session, 2)
        print(left and left.name, right and right.name, end="")


def feature_flags() -> None:
    """The current user, then three settings read by name in a loop over constants."""
    with Session(engine) as session, perfdoctor.trace("clean flags-3", "http"):
        get_author(session, 1)
        for flag in ("beta", "dark", "legacy"):
            session.scalar(select(Tag).where(Tag.name == flag))


def fixed(n: int) -> None:
    """The idiomatic fix of rows(n): one query with the authors joined."""
    from sqlalchemy.orm import joinedload

    with Session(engine) as session, perfdoctor.trace(f"clean fixed-{n}", "http"):
        for article in session.scalars(select(Article).options(joinedload(Article.author))):
            print(article.author.name, end="")


def main() -> None:
    for n in (2, 3, 4, 5, 10):
        rows(n)
    for n in (3, 4):
        first_rows_of_a_page(n)
    for n in (3, 5):
        ids_loop(n)
    helper_in_a_loop(5)
    per_row_work("heavy-rows", 200_000)
    per_row_work("light-rows", 0)
    for n in (4, 6):
        sequence(n)
    helper_from_separate_lines()
    for n in (3, 5):
        requests_in_a_test(n)
    for n in (3, 5):
        pagination(n)
    counts_per_status()
    compare_pair()
    feature_flags()
    fixed(10)


if __name__ == "__main__":
    main()
