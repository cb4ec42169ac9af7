"""The engine, chosen by ``INVENTORY_DATABASE_URL`` (an SQLite file by default)."""

from __future__ import annotations

import os
from collections.abc import Iterator

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

DATABASE_URL = os.environ.get("INVENTORY_DATABASE_URL", "sqlite:///inventory.db")

engine = create_engine(DATABASE_URL)


def get_session() -> Iterator[Session]:
    with Session(engine) as session:
        yield session
