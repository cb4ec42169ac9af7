"""The version matrix: each old or new app environment perfdoctor is checked in.

The one definition, read by the builder (``scripts/matrix.py``, run by ``make
test`` and ``make matrix``) and by the tests (``tests/matrix``, and the ORM
catalog tests on old SQLAlchemy and Django releases).

Each environment is a venv of its own under ``.venv-matrix/``, made with the
interpreter it names, holding only the app's pins: the app as a user has it, with
no perfdoctor installed (``perfdoctor run`` from the project's venv captures it).
Its twin ``<name>+perfdoctor`` holds the same pins and then perfdoctor installed
into it (the pytest plugin's way), with ``pip freeze`` taken before and after.

``PERFDOCTOR_MATRIX`` selects the environments: unset, the ``default`` ones (one
old and one new per framework, and what the ORM catalog tests need); ``all``;
or names separated by commas.  Python 3.9-compatible code is not needed here:
this module runs in the project's venv only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
HOME = ROOT / ".venv-matrix"
APPS = Path(__file__).resolve().parent / "apps"
SELECT = "PERFDOCTOR_MATRIX"
STAMP = ".matrix-stamp"
TWIN = "+perfdoctor"
# Installs into every environment, whatever its Python: the newest pip that still
# runs on 3.9, driven with --python (so the environments need no pip of their own).
PIP = "pip==25.2"


@dataclass(frozen=True)
class Env:
    name: str
    python: str  # "3.9": the interpreter is pythonX.Y
    requirements: tuple[str, ...]  # exact pins, as the app's requirements.txt
    # A folder of tests/matrix/apps, and how it is served ("runserver", "flask",
    # "gunicorn"); None: a library alone, for the ORM catalog tests (no twin).
    app: str | None = None
    server: str | None = None
    database: str = "sqlite"  # or "postgres"
    default: bool = False  # built and run by `make test`

    def __str__(self) -> str:
        return self.name

    def pin(self, package: str) -> str | None:
        """The version ``package`` is pinned to (``None``: not pinned)."""
        for requirement in self.requirements:
            name, _, version = requirement.partition("==")
            if _normal(name.split("[")[0]) == _normal(package):
                return version
        return None

    def venv(self, twin: bool = False) -> Path:
        return HOME / (self.name + TWIN if twin else self.name)

    def stamp(self, twin: bool = False) -> str:
        """What the venv is built from: a changed pin, or for the twin a changed
        dependency of perfdoctor's, makes the builder start it again."""
        parts: dict[str, object] = {
            "python": self.python, "requirements": self.requirements, "pip": PIP,
        }
        if twin:
            parts["perfdoctor"] = perfdoctor_stamp()
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def built(self, twin: bool = False) -> bool:
        stamp = self.venv(twin) / STAMP
        return stamp.exists() and stamp.read_text(encoding="utf-8").strip() == self.stamp(twin)


def perfdoctor_stamp() -> str:
    """What installing perfdoctor without an extra depends on: its name, version,
    dependencies, entry points and build system (not the extras, which the twins
    do not install); its code is read from src/ at run time."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    keys = ("name", "version", "requires-python", "dependencies", "scripts", "entry-points")
    parts = [pyproject["build-system"], {k: project.get(k) for k in keys}]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


ENVS = (
    Env(
        "django32", "3.9",
        ("Django==3.2.25", "asgiref==3.4.1", "sqlparse==0.4.2", "pytz==2021.3", "pytest==7.0.1"),
        app="django_app", server="runserver", default=True,
    ),
    Env(
        "django42-psycopg2", "3.11",
        ("Django==4.2.30", "asgiref==3.7.2", "sqlparse==0.4.4", "psycopg2-binary==2.9.9",
         "gunicorn==21.2.0", "pytest==7.4.4"),
        app="django_app", server="gunicorn", database="postgres",
    ),
    Env(
        "django52-psycopg3", "3.13",
        ("Django==5.2.19", "psycopg[binary]==3.2.13", "pytest==8.3.5"),
        app="django_app", server="runserver", database="postgres", default=True,
    ),
    Env(
        "flask11-sa13", "3.9",
        # Flask 1.1 with the releases of its day: newer click, Jinja2, MarkupSafe,
        # Werkzeug and itsdangerous break it.
        ("Flask==1.1.4", "click==7.1.2", "Jinja2==2.11.3", "MarkupSafe==2.0.1",
         "Werkzeug==1.0.1", "itsdangerous==1.1.0", "SQLAlchemy==1.3.24", "pytest==7.0.1"),
        app="flask_app", server="flask", default=True,
    ),
    Env(
        "flask20-sa14", "3.10",
        # pytest 6, as in 2021: too old for the plugin, which must then stay out of
        # the way (tests/matrix/test_matrix.py).
        ("Flask==2.0.3", "click==8.0.4", "Jinja2==3.0.3", "MarkupSafe==2.1.1",
         "Werkzeug==2.0.3", "itsdangerous==2.0.1", "SQLAlchemy==1.4.54", "pytest==6.2.5"),
        app="flask_app", server="flask",
    ),
    # SQLAlchemy 1.4 alone, for make test's ORM catalog and fix tests: a script
    # captured by perfdoctor run (tests/orm/test_fixes_legacy.py).
    Env("sqlalchemy14", "3.9", ("SQLAlchemy==1.4.54",), default=True),
    Env(
        "flask30-sa20", "3.12",
        ("Flask==3.0.3", "Werkzeug==3.0.6", "SQLAlchemy==2.0.43", "pytest==8.2.2"),
        app="flask_app", server="flask",
    ),
    Env(
        "flask31-sa21", "3.13",
        ("Flask==3.1.3", "Werkzeug==3.1.9", "SQLAlchemy==2.1.9", "gunicorn==23.0.0",
         "pytest==8.4.2"),
        app="flask_app", server="gunicorn", default=True,
    ),
)


def selected() -> list[Env]:
    """The environments ``PERFDOCTOR_MATRIX`` asks for (unknown names: ValueError)."""
    choice = os.environ.get(SELECT, "").strip()
    if choice in ("", "default"):
        return [env for env in ENVS if env.default]
    if choice == "all":
        return list(ENVS)
    names = [n.strip() for n in choice.split(",") if n.strip()]
    known = {env.name: env for env in ENVS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"{SELECT}={choice}: no environment {', '.join(unknown)} "
            f"(known: default, all, {', '.join(known)})"
        )
    return [known[n] for n in names]


def selected_with(package: str, version_prefix: str) -> list[Env]:
    """The selected environments pinning ``package`` to a version starting so."""
    return [
        env for env in selected()
        if (env.pin(package) or "").startswith(version_prefix)
    ]
