"""The generated workload, built once per test module on each database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.advisor import workload
from tests.conftest import MYSQL_HOST, MYSQL_PORT, POSTGRES_ADMIN_URL, _missing


@pytest.fixture(scope="module")
def sqlite_workload(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("advisor") / "shop.db"
    workload.build_sqlite(str(path))
    return str(path)


@pytest.fixture(scope="module")
def pg_workload() -> Iterator[str]:
    """A fresh PostgreSQL database holding the workload (module-scoped: it takes a second)."""
    import psycopg

    name = f"pd_adv_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _missing("PostgreSQL", str(exc).strip().splitlines()[0])
        raise
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    url = f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        workload.build_postgres(url)
        yield url
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@pytest.fixture(scope="module")
def mysql_workload() -> Iterator[dict[str, Any]]:
    import pymysql

    name = f"pd_adv_{uuid.uuid4().hex[:10]}"
    params: dict[str, Any] = {
        "host": MYSQL_HOST,
        "port": MYSQL_PORT,
        "user": "root",
        "password": "",
    }
    try:
        admin = pymysql.connect(**params, connect_timeout=3)
    except pymysql.err.OperationalError as exc:
        _missing("MariaDB", str(exc))
        raise
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    admin.close()
    params["database"] = name
    try:
        workload.build_mysql(params)
        yield params
    finally:
        admin = pymysql.connect(**{k: v for k, v in params.items() if k != "database"})
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def query_args() -> list[str]:
    args: list[str] = []
    for sql in workload.QUERIES:
        args += ["--query", sql]
    return args


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"
