"""The SQLAlchemy catalog names relationship attributes as the mappers hold them:
2.x declarative (tests/orm/sa_models.py) and 1.4-style declarative_base
(tests/orm/sa_models_classic.py)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, configure_mappers, mapped_column, relationship

from perfdoctor.orm import sqlalchemy_meta
from perfdoctor.orm.catalog import CATALOG_FORMAT, Catalog, Relation
from tests.orm import sa_models, sa_models_classic

M = "tests.orm.sa_models."
C = "tests.orm.sa_models_classic."


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    assert sa_models.Base and sa_models_classic.Base
    configure_mappers()
    raw = sqlalchemy_meta.catalog()
    assert raw is not None
    json.dumps(raw)
    assert (raw["format"], raw["framework"], raw["version"]) == (CATALOG_FORMAT, "sqlalchemy", sqlalchemy.__version__)
    return Catalog.from_dict(raw)


def rel(catalog: Catalog, key: str, name: str) -> Relation:
    found = catalog.models[key].relation(name)
    assert found is not None, f"{key}.{name} missing: {[r.name for r in catalog.models[key].relations]}"
    return found


def test_models_tables_and_columns(catalog: Catalog) -> None:
    post = catalog.models[M + "Post"]
    assert (post.name, post.module, post.table, post.pk) == ("Post", "tests.orm.sa_models", "posts", ("id",))
    assert post.fields == {"id": "id", "title": "title", "owner_id": "owner_id", "category_id": "category_id"}
    assert [m.key for m in catalog.by_table("books")] == [C + "Book"]
    # an association table is not a mapped class
    assert not catalog.by_table("post_tags")


def test_many_to_one_named_by_attribute_not_table(catalog: Catalog) -> None:
    owner = rel(catalog, M + "Post", "owner")
    assert (owner.kind, owner.target, owner.to_many, owner.lazy) == ("fk", M + "User", False, "select")
    assert (owner.column, owner.remote_column) == ("owner_id", "id")
    author = rel(catalog, C + "Book", "author")
    assert (author.kind, author.target, author.column) == ("fk", C + "Author", "writer_id")


def test_one_to_many_back_populates_and_backref(catalog: Catalog) -> None:
    posts = rel(catalog, M + "User", "posts")
    assert (posts.kind, posts.target, posts.to_many) == ("reverse_fk", M + "Post", True)
    assert (posts.column, posts.remote_column) == ("id", "owner_id")
    # backref="post" on Post.comments: both sides exist
    assert rel(catalog, M + "Post", "comments").kind == "reverse_fk"
    back = rel(catalog, M + "Comment", "post")
    assert (back.kind, back.target, back.column) == ("fk", M + "Post", "post_id")
    books = rel(catalog, C + "Author", "books")  # backref("books") declared on Book.author
    assert (books.kind, books.target, books.remote_column) == ("reverse_fk", C + "Book", "writer_id")
    # nested chain Comment.post -> Post.owner -> User.profile
    assert rel(catalog, rel(catalog, rel(catalog, M + "Comment", "post").target, "owner").target, "profile").target == M + "Profile"


def test_one_to_one_uselist_false(catalog: Catalog) -> None:
    profile = rel(catalog, M + "User", "profile")
    assert (profile.kind, profile.to_many, profile.remote_column) == ("reverse_o2o", False, "user_id")
    assert rel(catalog, M + "Profile", "user").kind == "fk"
    bio = rel(catalog, C + "Author", "bio")  # backref(..., uselist=False)
    assert (bio.kind, bio.target, bio.to_many) == ("reverse_o2o", C + "AuthorBio", False)


def test_association_table_many_to_many(catalog: Catalog) -> None:
    tags = rel(catalog, M + "Post", "tags")
    assert (tags.kind, tags.target, tags.to_many) == ("m2m", M + "Tag", True)
    assert (tags.through, tags.through_source, tags.through_target) == ("post_tags", "post_id", "tag_id")
    assert (tags.column, tags.remote_column) == ("id", "id")
    back = rel(catalog, M + "Tag", "posts")
    assert (back.kind, back.through_source, back.through_target) == ("m2m", "tag_id", "post_id")
    genres = rel(catalog, C + "Book", "genres")
    assert (genres.through, genres.through_source, genres.through_target) == ("book_genres", "book_id", "genre_id")


def test_loader_strategies(catalog: Catalog) -> None:
    assert rel(catalog, M + "Category", "posts").lazy == "dynamic"
    assert rel(catalog, M + "User", "notifications").lazy == "write_only"
    assert rel(catalog, C + "Author", "reviews").lazy == "dynamic"
    assert rel(catalog, C + "Review", "book").lazy == "joined"
    assert rel(catalog, C + "Genre", "books").lazy == "selectin"


def test_joined_table_inheritance(catalog: Catalog) -> None:
    engineer = catalog.models[M + "Engineer"]
    assert (engineer.table, engineer.pk, engineer.parents) == ("engineers", ("id",), (M + "Employee",))
    assert "name" not in engineer.fields and engineer.fields["mentor_id"] == "mentor_id"
    assert rel(catalog, M + "Engineer", "mentor").target == M + "User"
    assert catalog.models[C + "Editor"].parents == (C + "Person",)


def test_unconfigured_mappers_are_left_alone() -> None:
    """A class mapped after the app's last configure is skipped, and reading the
    catalog does not configure it (that is the app's job, on its own thread)."""

    class Base(DeclarativeBase):
        pass

    class LateParent(Base):
        __tablename__ = "late_parent"
        id: Mapped[int] = mapped_column(primary_key=True)

    class Late(Base):
        __tablename__ = "late"
        id: Mapped[int] = mapped_column(primary_key=True)
        parent_id: Mapped[int] = mapped_column(sqlalchemy.ForeignKey("late_parent.id"))
        parent = relationship(LateParent)

    mapper = sqlalchemy.inspect(Late, raiseerr=False)
    mapped, unconfigured = sqlalchemy_meta.state()
    assert unconfigured >= 1
    raw = sqlalchemy_meta.catalog()
    assert raw is not None
    assert not any(m["name"] == "Late" for m in raw["models"])
    assert mapper.configured is False
    configure_mappers()
    # configuring changes the state: capture knows to read the models again
    assert sqlalchemy_meta.state() == (mapped, unconfigured - 1)
    late = Catalog.from_dict(sqlalchemy_meta.catalog() or {}).models[Late.__module__ + "." + Late.__qualname__]
    assert late.relation("parent") is not None
