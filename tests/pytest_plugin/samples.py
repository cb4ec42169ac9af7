"""Sample test suites, as a user of each framework writes them, each with an N+1.

Every suite exercises one N+1 (twelve articles, each loading its author) and
its idiomatic fix.  ``N_PLUS_ONE_LINE`` is the line of each suite's loop.
"""

from __future__ import annotations

from _pytest.pytester import Pytester

DJANGO_FILES = {
    "settings.py": """
SECRET_KEY = "test"
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django.contrib.contenttypes", "blog"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
ROOT_URLCONF = "blog.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
""",
    "blog/__init__.py": "",
    "blog/models.py": """from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=50)


class Article(models.Model):
    title = models.CharField(max_length=100)
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
""",
    "blog/views.py": """from django.http import JsonResponse

from blog.models import Article


def articles(request):
    data = [{"title": a.title, "author": a.author.name} for a in Article.objects.all()]
    return JsonResponse(data, safe=False)


def articles_fixed(request):
    rows = Article.objects.select_related("author")
    data = [{"title": a.title, "author": a.author.name} for a in rows]
    return JsonResponse(data, safe=False)
""",
    "blog/urls.py": """from django.urls import path

from blog import views

urlpatterns = [
    path("articles/", views.articles),
    path("articles-fixed/", views.articles_fixed),
]
""",
    "pytest.ini": """[pytest]
DJANGO_SETTINGS_MODULE = settings
pythonpath = .
""",
    "test_blog.py": """import pytest

from blog.models import Article, Author


@pytest.fixture
def articles(db):
    for i in range(12):
        Article.objects.create(title=f"t{i}", author=Author.objects.create(name=f"a{i}"))


def test_list(client, articles):
    assert len(client.get("/articles/").json()) == 12


def test_list_fixed(client, articles):
    assert len(client.get("/articles-fixed/").json()) == 12
""",
}
# blog/views.py: the list comprehension that reads a.author; test_blog.py: the request.
DJANGO_N1 = ("blog/views.py:7", "test_blog.py:13", "test_blog.py::test_list")

_SQLALCHEMY_MODELS = """from sqlalchemy import ForeignKey, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, joinedload, mapped_column, relationship
from sqlalchemy.pool import StaticPool


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Article(Base):
    __tablename__ = "article"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author] = relationship()


def make_engine():
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        for i in range(12):
            s.add(Article(title=f"t{i}", author=Author(name=f"a{i}")))
        s.commit()
    return engine
"""

FASTAPI_FILES = {
    "models.py": _SQLALCHEMY_MODELS,
    "app.py": """from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from models import Article, make_engine

engine = make_engine()
app = FastAPI()


@app.get("/articles")
def articles():
    with Session(engine) as s:
        return [{"title": a.title, "author": a.author.name} for a in s.scalars(select(Article))]


@app.get("/articles-fixed")
def articles_fixed():
    with Session(engine) as s:
        rows = s.scalars(select(Article).options(joinedload(Article.author)))
        return [{"title": a.title, "author": a.author.name} for a in rows]
""",
    "test_api.py": """import pytest
from fastapi.testclient import TestClient

from app import app


@pytest.fixture
def client():
    return TestClient(app)


def test_articles(client):
    assert len(client.get("/articles").json()) == 12


def test_articles_fixed(client):
    assert len(client.get("/articles-fixed").json()) == 12
""",
}
FASTAPI_N1 = ("app.py:14", "test_api.py:13", "test_api.py::test_articles")

FLASK_FILES = {
    "models.py": _SQLALCHEMY_MODELS,
    "app.py": """from flask import Flask, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from models import Article, make_engine

engine = make_engine()
app = Flask(__name__)


@app.get("/articles")
def articles():
    with Session(engine) as s:
        return jsonify([{"title": a.title, "author": a.author.name} for a in s.scalars(select(Article))])


@app.get("/articles-fixed")
def articles_fixed():
    with Session(engine) as s:
        rows = s.scalars(select(Article).options(joinedload(Article.author)))
        return jsonify([{"title": a.title, "author": a.author.name} for a in rows])
""",
    "test_web.py": """import pytest

from app import app


@pytest.fixture
def client():
    return app.test_client()


def test_articles(client):
    assert len(client.get("/articles").get_json()) == 12


def test_articles_fixed(client):
    assert len(client.get("/articles-fixed").get_json()) == 12
""",
}
FLASK_N1 = ("app.py:14", "test_web.py:12", "test_web.py::test_articles")

SQLALCHEMY_FILES = {
    "models.py": _SQLALCHEMY_MODELS,
    "test_orm.py": """import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from models import Article, make_engine


@pytest.fixture
def session():
    with Session(make_engine()) as s:
        yield s


def test_titles_and_authors(session):
    names = [a.author.name for a in session.scalars(select(Article))]
    assert len(names) == 12


def test_titles_and_authors_fixed(session):
    rows = session.scalars(select(Article).options(joinedload(Article.author)))
    assert len([a.author.name for a in rows]) == 12
""",
}
SQLALCHEMY_N1 = ("test_orm.py:15", "test_orm.py:15", "test_orm.py::test_titles_and_authors")

SUITES = {
    "django": (DJANGO_FILES, DJANGO_N1),
    "fastapi": (FASTAPI_FILES, FASTAPI_N1),
    "flask": (FLASK_FILES, FLASK_N1),
    "sqlalchemy": (SQLALCHEMY_FILES, SQLALCHEMY_N1),
}


def write(pytester: Pytester, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"), encoding="utf-8")
