"""Where the app's database is: ``ASYNC_APP_SA_URL`` (an async SQLAlchemy URL:
postgresql+asyncpg://... or sqlite+aiosqlite:///...), and for the raw asyncpg
endpoints ``ASYNC_APP_PG_URL`` (postgresql://...).

Every database gets a ``pause(ms)`` SQL function that waits, so a query takes a
known time: a PL function on PostgreSQL, a Python function on SQLite.
"""

from __future__ import annotations

import os
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event

SA_URL = os.environ["ASYNC_APP_SA_URL"]
PG_URL = os.environ.get("ASYNC_APP_PG_URL", "")
SQLITE = SA_URL.startswith("sqlite")


def sync_url() -> str:
    """The same database for a synchronous engine."""
    return SA_URL.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")


def _pause(ms: int) -> int:
    time.sleep(ms / 1000.0)
    return ms


def add_pause(engine: Engine) -> None:
    """Give every SQLite connection of ``engine`` the ``pause`` function."""
    if not SQLITE:
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("pause", 1, _pause)


def sync_engine() -> Engine:
    engine = create_engine(sync_url())
    add_pause(engine)
    return engine
