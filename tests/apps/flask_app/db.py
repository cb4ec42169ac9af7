"""The engine, chosen by ``BLOG_DATABASE_URL`` (an SQLite file by default)."""

from __future__ import annotations

import os

from sqlalchemy import create_engine

DATABASE_URL = os.environ.get("BLOG_DATABASE_URL", "sqlite:///blog.db")

engine = create_engine(DATABASE_URL)
