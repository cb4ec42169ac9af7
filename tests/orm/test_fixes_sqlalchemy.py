"""SQLAlchemy N+1 fixes name the attributes the mappers declare, and pasted, they work.

Each test runs a loop over the 2.x models of tests/orm/sa_models.py under
capture, checks the finding's fix text, evaluates the fix's code as a user
would paste it (``evidence["orm_fix"]``) and runs the loop again in a new
session: the query count must drop to what the fix promises.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, ForeignKey, String, Table, exists, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    WriteOnlyMapped,
    aliased,
    load_only,
    mapped_column,
    relationship,
    selectinload,
)

from tests.orm import sa_models as m
from tests.orm.fix_support import (
    apply_sqlalchemy,
    captured,
    n_plus_one,
    queries,
    run,
    sqlalchemy_namespace,
)

ROWS = 6


class _Base(DeclarativeBase):
    pass


class Writer(_Base):
    __tablename__ = "fx_writers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class Draft(_Base):
    """Two foreign keys to one table: only the call site tells them apart."""

    __tablename__ = "fx_drafts"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("fx_writers.id"))
    editor_id: Mapped[int] = mapped_column(ForeignKey("fx_writers.id"))
    author: Mapped[Writer] = relationship(foreign_keys=[author_id])
    editor: Mapped[Writer] = relationship(foreign_keys=[editor_id])


def _seed(engine: Engine) -> None:
    _Base.metadata.create_all(engine)
    with Session(engine) as s:
        tags = [m.Tag(name=f"tag{i}") for i in range(ROWS)]
        writers = [Writer(name=f"writer{i}") for i in range(ROWS)]
        for i in range(ROWS):
            user = m.User(name=f"user{i}", profile=m.Profile(bio=f"bio {i}"))
            category = m.Category(name=f"category {i}")
            post = m.Post(title=f"post {i}", owner=user, category=category)
            post.tags = [tags[i], tags[(i + 1) % ROWS]]
            s.add_all([user, category, post])
            s.flush()
            s.add_all(m.Comment(post_id=post.id, author_id=user.id, body=f"c{j}") for j in range(2))
            s.add(m.Notification(user_id=user.id, text=f"n{i}"))
            s.add(m.Engineer(name=f"engineer {i}", language="py", mentor=user))
            s.add(Draft(author=writers[i], editor=writers[(i + 1) % ROWS]))
        s.commit()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Engine]]:
    path = tmp_path_factory.mktemp("fixes") / "traces.db"
    with captured(path):
        engine = m.make_engine()  # connects under capture
        _seed(engine)
        yield path, engine


def check(
    env: tuple[Path, Engine], name: str, loop: Any, statement: Any, fix_text: str, after: int
) -> Any:
    """Run ``loop`` over ``statement`` as written, then with the fix's options added."""
    traces, engine = env

    def over(stmt: Any) -> Any:
        with Session(engine) as session:
            return loop(session, stmt)

    before = run(name, lambda: over(statement))
    [finding] = n_plus_one(traces, name)
    assert fix_text in finding.fix, finding.fix
    fixed = apply_sqlalchemy(statement, finding.evidence["orm_fix"])
    assert run(name + " fixed", lambda: over(fixed)) == before
    assert queries(traces, name + " fixed") == after
    return finding


def test_many_to_one_named_by_its_attribute_not_its_table(env: tuple[Path, Engine]) -> None:
    def loop(s: Session, stmt: Any) -> list[str]:
        return [post.owner.name for post in s.scalars(stmt)]

    finding = check(
        env, "owner", loop, select(m.Post).order_by(m.Post.id), "joinedload(Post.owner)", 1
    )
    assert finding.title == f"N+1 queries: {ROWS} queries load owner one row at a time"
    assert "User.users" not in finding.fix and "Post.user" not in finding.fix


def test_nested_path_chains_loaders_on_the_right_classes(env: tuple[Path, Engine]) -> None:
    def loop(s: Session, stmt: Any) -> list[str]:
        return [post.owner.profile.bio for post in s.scalars(stmt)]

    traces, engine = env
    statement = select(m.Post).order_by(m.Post.id)
    with Session(engine) as session:
        before = run("nested", lambda: loop(session, statement))
    # two N+1s on the line: the owners (by pk), then their profiles (by user_id)
    findings = {f.evidence["orm_fix"]["options"][0] for f in n_plus_one(traces, "nested")}
    assert findings == {"joinedload(Post.owner)", "joinedload(Post.owner).joinedload(User.profile)"}
    nested = next(
        f for f in n_plus_one(traces, "nested") if "User.profile" in f.evidence["orm_fix"]["options"][0]
    )
    fixed = apply_sqlalchemy(statement, nested.evidence["orm_fix"])
    with Session(engine) as session:
        assert run("nested fixed", lambda: loop(session, fixed)) == before
    assert queries(traces, "nested fixed") == 1
    # The owners' finding points at the chain that loads both; the chain's own fix
    # already does, so it gets no second one.
    owners = next(
        f
        for f in n_plus_one(traces, "nested")
        if f.evidence["orm_fix"]["options"] == ["joinedload(Post.owner)"]
    )
    assert owners.evidence["orm_fix_together"]["options"] == [
        "joinedload(Post.owner).joinedload(User.profile)"
    ]
    # Pasted into a view that imports only Post, the chain needs User too.
    assert (
        ".options(joinedload(Post.owner).joinedload(User.profile)) (from sqlalchemy.orm "
        f"import joinedload; from {m.User.__module__} import User)"
    ) in owners.fix, owners.fix
    assert "orm_fix_together" not in nested.evidence


def test_one_to_one_uselist_false(env: tuple[Path, Engine]) -> None:
    def loop(s: Session, stmt: Any) -> list[str]:
        return [user.profile.bio for user in s.scalars(stmt)]

    check(env, "uselist", loop, select(m.User).order_by(m.User.id), "joinedload(User.profile)", 1)


def test_one_to_many_declared_by_backref(env: tuple[Path, Engine]) -> None:
    def loop(s: Session, stmt: Any) -> list[list[str]]:
        return [[c.body for c in post.comments] for post in s.scalars(stmt)]

    statement = select(m.Post).order_by(m.Post.id)
    check(env, "backref", loop, statement, ".options(selectinload(Post.comments))", 2)


def test_many_to_many_association_table(env: tuple[Path, Engine]) -> None:
    def loop(s: Session, stmt: Any) -> list[list[str]]:
        return [sorted(t.name for t in post.tags) for post in s.scalars(stmt)]

    check(
        env, "m2m", loop, select(m.Post).order_by(m.Post.id), ".options(selectinload(Post.tags))", 2
    )


def test_joined_table_inheritance_subclass_relation(env: tuple[Path, Engine]) -> None:
    def loop(s: Session, stmt: Any) -> list[str]:
        return [e.mentor.name for e in s.scalars(stmt)]

    statement = select(m.Engineer).order_by(m.Engineer.id)
    check(env, "jti", loop, statement, ".options(joinedload(Engineer.mentor))", 1)


def test_two_foreign_keys_to_one_table_told_apart_by_the_call_site(
    env: tuple[Path, Engine],
) -> None:
    def loop(s: Session, stmt: Any) -> list[str]:
        return [d.editor.name for d in s.scalars(stmt)]

    finding = check(
        env, "editor", loop, select(Draft).order_by(Draft.id), "joinedload(Draft.editor)", 1
    )
    assert "Draft.author" not in finding.fix


def test_deferred_column(env: tuple[Path, Engine]) -> None:
    def loop(s: Session, stmt: Any) -> list[str]:
        return [post.title for post in s.scalars(stmt)]

    statement = select(m.Post).options(load_only(m.Post.id)).order_by(m.Post.id)
    finding = check(env, "deferred", loop, statement, ".options(undefer(Post.title))", 1)
    assert "joinedload" not in finding.fix and "selectinload" not in finding.fix


def _rows_by_parent(
    env: tuple[Path, Engine], fix: dict[str, Any], ids: list[int]
) -> dict[int, list[Any]]:
    """The fix's one query for every parent, evaluated from its code, grouped by parent."""
    _traces, engine = env
    space = sqlalchemy_namespace(fix, fix["on"], fix["target"])
    grouped: dict[int, list[Any]] = {i: [] for i in ids}
    with Session(engine) as session:
        for parent_id, child in session.execute(eval(fix["code"], {**space, "ids": ids})):
            grouped[parent_id].append(child.id)
    return grouped


def test_dynamic_relationship_gets_a_fix_that_runs_not_selectinload(
    env: tuple[Path, Engine],
) -> None:
    traces, engine = env

    def loop() -> dict[int, list[int]]:
        with Session(engine) as s:
            return {c.id: [p.id for p in c.posts.all()] for c in s.scalars(select(m.Category))}

    before = run("dynamic", loop)
    [finding] = n_plus_one(traces, "dynamic")
    fix = finding.evidence["orm_fix"]
    assert fix["kind"] == "batch_children" and "options" not in fix
    assert 'Category.posts is lazy="dynamic": it cannot be eager-loaded' in finding.fix
    assert (
        "select(Category.id, Post).join(Category.posts).where(Category.id.in_(ids))" in finding.fix
    )
    with Session(engine) as s, pytest.raises(Exception, match="eager loading cannot be applied"):
        s.scalars(select(m.Category).options(selectinload(m.Category.posts))).all()
    after = run("dynamic fixed", lambda: _rows_by_parent(env, fix, sorted(before)))
    assert after == before
    assert queries(traces, "dynamic fixed") == 1


def test_write_only_relationship(env: tuple[Path, Engine]) -> None:
    traces, engine = env

    def loop() -> dict[int, list[int]]:
        with Session(engine) as s:
            return {
                u.id: [n.id for n in s.scalars(u.notifications.select())]
                for u in s.scalars(select(m.User))
            }

    before = run("write_only", loop)
    [finding] = n_plus_one(traces, "write_only")
    fix = finding.evidence["orm_fix"]
    assert (
        fix["kind"] == "batch_children" and "User.notifications is WriteOnlyMapped" in finding.fix
    )
    after = run("write_only fixed", lambda: _rows_by_parent(env, fix, sorted(before)))
    assert after == before
    assert queries(traces, "write_only fixed") == 1


def test_count_per_row_of_a_dynamic_relationship(env: tuple[Path, Engine]) -> None:
    traces, engine = env

    def loop() -> dict[int, int]:
        with Session(engine) as s:
            return {c.id: c.posts.count() for c in s.scalars(select(m.Category))}

    before = run("count", loop)
    [finding] = n_plus_one(traces, "count")
    fix = finding.evidence["orm_fix"]
    assert fix["kind"] == "count" and "func.count(Post.id)).join(Category.posts)" in finding.fix
    space = sqlalchemy_namespace(fix, fix["on"], fix["target"])

    def fixed() -> dict[int, int]:
        with Session(engine) as s:
            counts = dict(s.execute(eval(fix["code"], {**space, "ids": sorted(before)})).all())
        return {i: counts.get(i, 0) for i in before}

    assert run("count fixed", fixed) == before
    assert queries(traces, "count fixed") == 1


def test_exists_per_row(env: tuple[Path, Engine]) -> None:
    traces, engine = env

    def loop() -> dict[int, bool]:
        with Session(engine) as s:
            posts = s.scalars(select(m.Post)).all()
            return {
                p.id: bool(s.scalar(select(exists().where(m.Comment.post_id == p.id))))
                for p in posts
            }

    before = run("exists", loop)
    [finding] = n_plus_one(traces, "exists")
    fix = finding.evidence["orm_fix"]
    assert 'select(Post, Post.comments.any().label("has_comments"))' in finding.fix

    def fixed() -> dict[int, bool]:
        owner = sqlalchemy_namespace(fix, fix["on"])["Post"]
        column = getattr(owner, fix["relation"]).any().label(fix["label"])
        with Session(engine) as s:
            return {p.id: has for p, has in s.execute(select(owner, column))}

    assert run("exists fixed", fixed) == before
    assert queries(traces, "exists fixed") == 1


def test_get_per_row_with_no_parent_query(env: tuple[Path, Engine]) -> None:
    traces, engine = env
    ids = list(range(1, ROWS + 1))

    def loop() -> list[str]:
        with Session(engine) as s:
            return [s.get(m.Tag, i).name for i in ids]  # type: ignore[union-attr]

    before = run("get", loop)
    [finding] = n_plus_one(traces, "get")
    fix = finding.evidence["orm_fix"]
    assert fix["kind"] == "batch" and "select(Tag).where(Tag.id.in_(keys))" in finding.fix
    space = sqlalchemy_namespace(fix, fix["on"])

    def fixed() -> list[str]:
        with Session(engine) as s:
            by_key = {
                getattr(t, fix["attr"]): t
                for t in s.scalars(eval(fix["code"], {**space, "keys": ids}))
            }
            return [by_key[i].name for i in ids]

    assert run("get fixed", fixed) == before
    assert queries(traces, "get fixed") == 1


def test_without_a_catalog_the_fix_names_no_attribute(env: tuple[Path, Engine]) -> None:
    traces, engine = env
    with Session(engine) as s:
        run("no catalog", lambda: [post.owner.name for post in s.scalars(select(m.Post))])
    [finding] = n_plus_one(traces, "no catalog", catalogs=False)
    assert "Post.owner" not in finding.fix and "<Class>.<relation>" in finding.fix
    assert finding.evidence["orm_fix"]["kind"] == "look_for"


@pytest.fixture(scope="module")
def classic(env: tuple[Path, Engine]) -> tuple[Path, Engine]:
    """The 1.4-style models (declarative_base, Column, backref) on their own engine."""
    from tests.orm import sa_models_classic as c

    engine = c.make_engine()  # under the capture env opened
    with Session(engine) as s:
        for i in range(ROWS):
            author = c.Author(name=f"author {i}", bio=c.AuthorBio(text=f"bio {i}"))
            s.add(c.Book(title=f"book {i}", author=author))
        s.commit()
    return env[0], engine


@pytest.mark.parametrize(
    ("name", "statement", "read", "fix_text", "after"),
    [
        # column writer_id, attribute author, table authors: only the mapper knows
        ("classic fk", "Book", lambda b: b.author.name, ".options(joinedload(Book.author))", 1),
        (
            "classic backref",
            "Author",
            lambda a: [b.title for b in a.books],
            "selectinload(Author.books)",
            2,
        ),
        (
            "classic one-to-one",
            "Author",
            lambda a: a.bio.text,
            ".options(joinedload(Author.bio))",
            1,
        ),
    ],
)
def test_sqlalchemy_14_style_models(
    classic: tuple[Path, Engine], name: str, statement: str, read: Any, fix_text: str, after: int
) -> None:
    from tests.orm import sa_models_classic as c

    cls = getattr(c, statement)

    def loop(s: Session, stmt: Any) -> list[Any]:
        return [read(row) for row in s.scalars(stmt)]

    check(classic, name, loop, select(cls).order_by(cls.id), fix_text, after)


def test_membership_per_row_of_a_dynamic_relationship(env: tuple[Path, Engine]) -> None:
    """category.posts.filter(Post.id == post.id).count() per row (a membership test on
    one object's dynamic relationship): read its ids once, with a fix that runs on a
    dynamic relationship."""
    traces, engine = env

    def loop() -> list[bool]:
        with Session(engine) as s:
            category = s.scalars(select(m.Category).order_by(m.Category.id)).first()
            assert category is not None
            posts = s.scalars(select(m.Post).order_by(m.Post.id)).all()
            return [bool(category.posts.filter(m.Post.id == p.id).count()) for p in posts]

    before = run("membership", loop)
    [finding] = n_plus_one(traces, "membership")
    fix = finding.evidence["orm_fix"]
    assert fix["kind"] == "membership" and fix["relation"] == "posts", finding.fix
    assert "Category.posts is asked once per row" in finding.fix
    assert "selectinload" not in finding.fix

    def fixed() -> list[bool]:
        with Session(engine) as s:
            category = s.scalars(select(m.Category).order_by(m.Category.id)).first()
            space = {**sqlalchemy_namespace(fix, fix["target"]), fix["var"]: category}
            ids = eval(fix["code"], space)
            return [p.id in ids for p in s.scalars(select(m.Post).order_by(m.Post.id))]

    assert run("membership fixed", fixed) == before
    assert queries(traces, "membership fixed") == 3  # the category, its ids, the posts


# A class related to itself through an association table, declared as microblog
# declares its followers (WriteOnlyMapped, primaryjoin/secondaryjoin): the grouped
# count printed for it joined User to User and SQLAlchemy refused ("they are the
# same entity"); it needs an alias.
follows = Table(
    "fx_follows",
    _Base.metadata,
    Column("follower_id", ForeignKey("fx_members.id"), primary_key=True),
    Column("followed_id", ForeignKey("fx_members.id"), primary_key=True),
)


class Member(_Base):
    __tablename__ = "fx_members"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    following: WriteOnlyMapped[Member] = relationship(
        secondary=follows,
        primaryjoin=(follows.c.follower_id == id),
        secondaryjoin=(follows.c.followed_id == id),
        back_populates="followers",
    )
    followers: WriteOnlyMapped[Member] = relationship(
        secondary=follows,
        primaryjoin=(follows.c.followed_id == id),
        secondaryjoin=(follows.c.follower_id == id),
        back_populates="following",
    )

    def followers_count(self, session: Session) -> int:
        query = select(func.count()).select_from(self.followers.select().subquery())
        return int(session.scalar(query) or 0)


def test_count_per_row_of_a_self_referential_relationship(env: tuple[Path, Engine]) -> None:
    traces, engine = env
    with Session(engine) as s:
        members = [Member(name=f"member{i}") for i in range(ROWS)]
        s.add_all(members)
        s.flush()
        for i, member in enumerate(members):
            for other in members[: i % 3 + 1]:
                if other is not member:
                    member.followers.add(other)
        s.commit()

    def loop() -> dict[int, int]:
        with Session(engine) as s:
            return {x.id: x.followers_count(s) for x in s.scalars(select(Member))}

    before = run("self count", loop)
    [finding] = n_plus_one(traces, "self count")
    fix = finding.evidence["orm_fix"]
    assert "other = aliased(Member)" in finding.fix, finding.fix
    assert fix["setup"] == "other = aliased(Member)"
    assert "func.count(other.id)).join(Member.followers.of_type(other))" in fix["code"]
    space = {**sqlalchemy_namespace(fix, fix["on"], fix["target"]), "aliased": aliased}

    def fixed() -> dict[int, int]:
        exec(fix["setup"], space)  # as pasted: the alias first, then the query
        with Session(engine) as s:
            counts = dict(s.execute(eval(fix["code"], {**space, "ids": sorted(before)})).all())
        return {i: counts.get(i, 0) for i in before}

    assert set(before.values()) != {0}
    assert run("self count fixed", fixed) == before
    assert queries(traces, "self count fixed") == 1


def test_first_row_per_key_by_an_order(env: tuple[Path, Engine]) -> None:
    """The latest comment per post, one query per post (.order_by(...).limit(1)):
    the fix ranks them per key in one query and keeps the order."""
    traces, engine = env
    with Session(engine) as s:
        post_ids = list(s.scalars(select(m.Post.id).order_by(m.Post.id)))

    def loop() -> list[int | None]:
        with Session(engine) as s:
            return [
                s.scalars(
                    select(m.Comment).where(m.Comment.post_id == pid)
                    .order_by(m.Comment.body.desc(), m.Comment.id).limit(1)
                ).first().id  # type: ignore[union-attr]
                for pid in post_ids
            ]

    before = run("latest", loop)
    [finding] = n_plus_one(traces, "latest")
    fix = finding.evidence["orm_fix"]
    assert fix["kind"] == "first_per_key", finding.fix
    assert "partition_by=Comment.post_id, order_by=[Comment.body.desc(), Comment.id]" in finding.fix
    space = {**sqlalchemy_namespace(fix, fix["on"]), "aliased": aliased}

    def fixed() -> list[int | None]:
        with Session(engine) as s:
            ranked = eval(fix["code"], {**space, "keys": post_ids}).subquery()
            first = aliased(m.Comment, ranked)
            by_key = {
                getattr(c, fix["attr"]): c.id
                for c in s.scalars(select(first).where(ranked.c.n == 1))
            }
        return [by_key.get(pid) for pid in post_ids]

    assert run("latest fixed", fixed) == before
    assert queries(traces, "latest fixed") == 1
