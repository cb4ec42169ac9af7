"""The bundled demo app behind ``perfdoctor audit``.

A small Flask + SQLAlchemy blog (authors, articles, tags, comments) on SQLite,
seeded with thousands of rows, whose endpoints carry the classic database
bottlenecks (an N+1, duplicate queries, a slow query), each next to a fixed twin.
Only this module is imported eagerly; the app itself needs the ``demo`` extra.
"""

from __future__ import annotations

import os
from pathlib import Path

from perfdoctor.errors import PerfdoctorError

DEFAULT_DATABASE = Path(".perfdoctor") / "demo.sqlite"
# Lets `perfdoctor audit` use another demo database without a new option.
ENV_DATABASE = "PERFDOCTOR_DEMO_DB"


class DemoError(PerfdoctorError):
    """The demo app could not be seeded, started, driven or stopped."""


def default_database() -> Path:
    value = os.environ.get(ENV_DATABASE)
    return Path(value) if value else DEFAULT_DATABASE
