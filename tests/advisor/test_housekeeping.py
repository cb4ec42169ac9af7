"""Unused and duplicate indexes, on small fresh databases (the workload stays untouched)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pymysql

from tests.advisor.conftest import sqlite_url
from tests.advisor.workload import mysql_url
from tests.conftest import run_perfdoctor

SCHEMA = [
    "CREATE TABLE items (id INTEGER PRIMARY KEY, sku VARCHAR(20), shop INTEGER, price INTEGER)",
    "CREATE INDEX items_shop ON items (shop)",
    "CREATE INDEX items_shop_price ON items (shop, price)",
    "CREATE UNIQUE INDEX items_sku ON items (sku)",
    "CREATE INDEX items_price ON items (price)",
]
QUERY = "SELECT id FROM items WHERE shop = 3"


def _json(url: str) -> dict[str, Any]:
    result = run_perfdoctor("indexes", "--db", url, "--query", QUERY, "--format", "json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _duplicates(data: dict[str, Any]) -> set[tuple[str, str]]:
    return {(d["index"], d["covered_by"]) for d in data["duplicate_indexes"]}


def test_sqlite_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "items.db"
    conn = sqlite3.connect(path)
    for sql in SCHEMA:
        conn.execute(sql)
    conn.commit()
    conn.close()
    data = _json(sqlite_url(path))
    assert _duplicates(data) == {("items_shop", "items_shop_price")}
    assert data["unused_note"] == "SQLite keeps no index usage counts"


def test_postgres_unused_and_duplicates(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for sql in SCHEMA:
            conn.execute(sql.encode())
        conn.execute(
            b"INSERT INTO items SELECT n, 'sku' || n, n % 50, n % 1000 "
            b"FROM generate_series(1, 5000) n"
        )
        conn.execute(b"ANALYZE items")
        conn.execute(b"SET enable_seqscan = off")
        conn.execute(b"SELECT id FROM items WHERE price = 5").fetchall()
        conn.execute(b"SELECT pg_stat_force_next_flush()")
    data = _json(postgres_url)
    assert _duplicates(data) == {("items_shop", "items_shop_price")}
    unused = {i["name"] for i in data["unused_indexes"]}
    # price was used; sku is unique (it enforces something), so never "unused".
    assert unused == {"items_shop", "items_shop_price"}


def test_mariadb_duplicates_and_why_no_usage(mysql_database: dict[str, Any]) -> None:
    conn = pymysql.connect(**mysql_database, autocommit=True)
    with conn.cursor() as cur:
        for sql in SCHEMA:
            cur.execute(sql)
    conn.close()
    data = _json(mysql_url(mysql_database))
    assert _duplicates(data) == {("items_shop", "items_shop_price")}
    assert "performance_schema is OFF" in data["unused_note"]
