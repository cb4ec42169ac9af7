"""The catalogs on older releases: SQLAlchemy 1.3 and 1.4, Django 3.2 and 4.2,
each in its venv of the version matrix (tests/matrix/envs.py: ``make test``
builds the default ones, ``make matrix`` all).

``sqlalchemy_meta.py`` / ``django_meta.py`` run there loaded from their file,
alone: they need nothing but the standard library and the framework, as inside
a user's app.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from perfdoctor.orm.catalog import Catalog
from tests.matrix import envs
from tests.matrix.support import venv_python

ROOT = Path(__file__).resolve().parents[2]
ORM = ROOT / "src" / "perfdoctor" / "orm"
C = "tests.orm.sa_models_classic."

LOAD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("meta", {path!r})
meta = importlib.util.module_from_spec(spec)
spec.loader.exec_module(meta)
"""

SQLALCHEMY = LOAD.format(path=str(ORM / "sqlalchemy_meta.py")) + """
from sqlalchemy.orm import configure_mappers
import tests.orm.sa_models_classic
before = (meta.catalog(), meta.state())
configure_mappers()
print(json.dumps({"before": before, "after": [meta.catalog(), meta.state()]}))
"""

DJANGO = LOAD.format(path=str(ORM / "django_meta.py")) + """
before = meta.catalog()
from tests.orm import django_env
django_env.setup()
print(json.dumps({"before": before, "after": meta.catalog()}))
"""


def _run(env: envs.Env | None, program: str) -> dict[str, Any]:
    """``program``'s JSON, run in ``env``'s venv (None: this one, in a new process)."""
    python = sys.executable if env is None else str(venv_python(env))
    result = subprocess.run(
        [python, "-c", program],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.mark.parametrize(
    "env", envs.selected_with("sqlalchemy", "1.3") + envs.selected_with("sqlalchemy", "1.4"), ids=str
)
def test_catalog_on_older_sqlalchemy(env: envs.Env) -> None:
    data = _run(env, SQLALCHEMY)
    # before configure_mappers(): nothing is read, and reading configured nothing
    catalog_before, state_before = data["before"]
    assert catalog_before is None
    catalog_after, state_after = data["after"]
    assert state_after != state_before
    raw = catalog_after
    assert raw["version"] == env.pin("sqlalchemy")
    catalog = Catalog.from_dict(raw)
    book = catalog.models[C + "Book"]
    assert (book.table, book.pk) == ("books", ("id",))
    author = book.relation("author")
    assert author is not None and (author.kind, author.column, author.remote_column) == ("fk", "writer_id", "id")
    genres = book.relation("genres")
    assert genres is not None and (genres.kind, genres.through, genres.through_source, genres.through_target) == (
        "m2m", "book_genres", "book_id", "genre_id",
    )
    books = catalog.models[C + "Author"].relation("books")  # from backref("books")
    assert books is not None and (books.kind, books.remote_column) == ("reverse_fk", "writer_id")
    bio = catalog.models[C + "Author"].relation("bio")
    assert bio is not None and (bio.kind, bio.to_many) == ("reverse_o2o", False)
    reviews = catalog.models[C + "Author"].relation("reviews")
    assert reviews is not None and reviews.lazy == "dynamic"
    assert catalog.models[C + "Genre"].relation("books").lazy == "selectin"  # type: ignore[union-attr]
    assert catalog.models[C + "Review"].relation("book").lazy == "joined"  # type: ignore[union-attr]
    assert catalog.models[C + "Editor"].parents == (C + "Person",)


@pytest.mark.parametrize(
    "env", envs.selected_with("django", "3.") + envs.selected_with("django", "4."), ids=str
)
def test_django_catalog_on_older_django(env: envs.Env) -> None:
    """Django 3.2 and 4.2 (GenericForeignKey not yet a Field) give the catalog this Django gives."""
    data = _run(env, DJANGO)
    assert data["before"] is None  # apps not ready: nothing read
    old = data["after"]
    assert old["version"] == env.pin("django")
    # This Django's, in a process of its own: the tests' process may hold models
    # another test file defined (tests/orm/test_fixes_django.py's Review).
    new = _run(None, DJANGO)["after"]
    assert new is not None
    assert new["version"] != old["version"]
    assert {m["key"]: m for m in old["models"]} == {m["key"]: m for m in new["models"]}
