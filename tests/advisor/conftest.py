"""The generated workload, built once per test module on each database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.advisor import workload
from tests.conftest import fresh_mysql_database, fresh_postgres_database


@pytest.fixture(scope="module")
def sqlite_workload(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("advisor") / "shop.db"
    workload.build_sqlite(str(path))
    return str(path)


@pytest.fixture(scope="module")
def pg_workload() -> Iterator[str]:
    """A fresh PostgreSQL database holding the workload (module-scoped: it takes a second)."""
    with fresh_postgres_database(f"pd_adv_{uuid.uuid4().hex[:10]}") as url:
        workload.build_postgres(url)
        yield url


@pytest.fixture(scope="module")
def mysql_workload() -> Iterator[dict[str, Any]]:
    with fresh_mysql_database(f"pd_adv_{uuid.uuid4().hex[:10]}") as params:
        workload.build_mysql(params)
        yield params


def query_args() -> list[str]:
    args: list[str] = []
    for sql in workload.QUERIES:
        args += ["--query", sql]
    return args


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"
