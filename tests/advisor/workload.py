"""A generated shop workload with a known answer, the same on SQLite, PostgreSQL and MariaDB.

Tables (built with SQL alone: a recursive CTE, generate_series, MariaDB's sequence engine):

* ``customers``: 100,000 rows; ``email`` unique, ``country`` skewed (half the rows
  in one of 20 codes), ``is_active`` boolean-like (99% true).
* ``orders``: 200,000 rows; ``customer_id`` skewed toward the first customers
  (the product of two uniform numbers), ``status`` with five skewed values.
* ``countries``: 20 rows, a small table.

The queries are stored the way capture stores them (literals replaced by ``?``);
the helpful indexes are exactly :data:`EXPECTED`.
"""

from __future__ import annotations

import hashlib
from typing import Any

CUSTOMERS = 100_000
ORDERS = 200_000

QUERIES = [
    "SELECT id, email FROM customers WHERE email = ?",
    "SELECT * FROM orders WHERE customer_id = ? ORDER BY created_at DESC LIMIT ?",
    "SELECT o.id, o.total FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.email = ?",
    "SELECT COUNT(*) FROM customers WHERE is_active = ?",
    "SELECT code, name FROM countries WHERE name = ?",
]
EXPECTED = {("customers", ("email",)), ("orders", ("customer_id", "created_at"))}

_STATUS = (
    "CASE WHEN {n} % 100 < 60 THEN 'delivered' WHEN {n} % 100 < 80 THEN 'shipped' "
    "WHEN {n} % 100 < 90 THEN 'pending' WHEN {n} % 100 < 97 THEN 'cancelled' "
    "ELSE 'returned' END"
)
# Half the customers in the first country, the rest spread over 19.
_COUNTRY = "CASE WHEN {n} % 2 = 0 THEN 'C00' ELSE 'C' || ({n} % 19 + 1) END"
# A uniform customer scaled by a uniform share: few orders for most, many for the first.
_CUSTOMER_OF = "1 + (({n} * 7919) % 100000) * (({n} * 1009) % 1000) {div} 1000"

_SCHEMA = [
    "CREATE TABLE countries (code VARCHAR(8) PRIMARY KEY, name VARCHAR(40) NOT NULL)",
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(80) NOT NULL, "
    "country VARCHAR(8) NOT NULL, is_active {bool} NOT NULL, created_at {ts} NOT NULL)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, "
    "status VARCHAR(16) NOT NULL, total {money} NOT NULL, created_at {ts} NOT NULL)",
]


def _fill(dialect: str) -> list[str]:
    n = "n"
    status = _STATUS.format(n=n)
    country = _COUNTRY.format(n=n)
    customer = _CUSTOMER_OF.format(n=n, div="DIV" if dialect == "mysql" else "/")
    active = f"CASE WHEN {n} % 100 = 0 THEN {{f}} ELSE {{t}} END"
    if dialect == "sqlite":
        series = "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {max}) "
        src = "FROM s"
        when = "datetime('2024-01-01', '+' || n || ' minutes')"
        active = active.format(f="0", t="1")
        email = "'user' || n || '@example.com'"
        name = "'Country ' || n"
    elif dialect == "postgresql":
        series = ""
        src = "FROM generate_series(1, {max}) AS g(n)"
        when = "timestamp '2024-01-01' + n * interval '1 minute'"
        active = active.format(f="false", t="true")
        email = "'user' || n || '@example.com'"
        name = "'Country ' || n"
    else:
        series = ""
        src = "FROM (SELECT seq AS n FROM seq_1_to_{max}) s"
        when = "TIMESTAMP '2024-01-01 00:00:00' + INTERVAL n MINUTE"
        active = active.format(f="0", t="1")
        email = "CONCAT('user', n, '@example.com')"
        name = "CONCAT('Country ', n)"
        country = "CASE WHEN n % 2 = 0 THEN 'C00' ELSE CONCAT('C', n % 19 + 1) END"
    code = "CASE WHEN n = 20 THEN 'C00' ELSE " + (
        "CONCAT('C', n) END" if dialect == "mysql" else "'C' || n END"
    )
    return [
        _insert(dialect, "countries (code, name)", f"{code}, {name}", series, src, 20),
        _insert(
            dialect,
            "customers (id, email, country, is_active, created_at)",
            f"n, {email}, {country}, {active}, {when}",
            series,
            src,
            CUSTOMERS,
        ),
        _insert(
            dialect,
            "orders (id, customer_id, status, total, created_at)",
            f"n, {customer}, {status}, (n % 500) + 0.99, {when}",
            series,
            src,
            ORDERS,
        ),
    ]


def _insert(dialect: str, target: str, values: str, series: str, src: str, rows: int) -> str:
    if dialect == "sqlite":
        return f"INSERT INTO {target} {series.format(max=rows)}SELECT {values} {src}"
    return f"INSERT INTO {target} SELECT {values} {src.format(max=rows)}"


def statements(dialect: str) -> list[str]:
    types = {
        "sqlite": {"bool": "INTEGER", "ts": "TEXT", "money": "REAL"},
        "postgresql": {"bool": "BOOLEAN", "ts": "TIMESTAMP", "money": "NUMERIC(10,2)"},
        "mysql": {"bool": "TINYINT(1)", "ts": "DATETIME", "money": "DECIMAL(10,2)"},
    }[dialect]
    schema = [s.format(**types) for s in _SCHEMA]
    # The user's statistics, as a live database has them (autovacuum, sqlite's ANALYZE).
    analyze = {
        "sqlite": ["ANALYZE"],
        "postgresql": ["ANALYZE countries", "ANALYZE customers", "ANALYZE orders"],
        "mysql": ["ANALYZE TABLE countries, customers, orders"],
    }[dialect]
    return schema + _fill(dialect) + analyze


def build_sqlite(path: str) -> None:
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    for sql in statements("sqlite"):
        conn.execute(sql)
    conn.close()


def build_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for sql in statements("postgresql"):
            conn.execute(sql.encode())


def build_mysql(params: dict[str, Any]) -> None:
    import pymysql

    conn = pymysql.connect(**params, autocommit=True)
    with conn.cursor() as cur:
        for sql in statements("mysql"):
            cur.execute(sql)
            if cur.description:
                cur.fetchall()
    conn.close()


def mysql_url(params: dict[str, Any]) -> str:
    password = f":{params['password']}" if params.get("password") else ""
    return (
        f"mysql://{params['user']}{password}@{params['host']}:{params['port']}/{params['database']}"
    )


def checksum_sqlite(path: str) -> str:
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    digest = hashlib.sha256()
    for row in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"):
        digest.update(repr(row).encode())
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in sorted(tables):
        for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1'):
            digest.update(repr(row).encode())
    conn.close()
    return digest.hexdigest()


def checksum_postgres(url: str) -> str:
    import psycopg

    digest = hashlib.sha256()
    with psycopg.connect(url, autocommit=True) as conn:
        catalog = [
            "SELECT relname, relkind, relnatts FROM pg_class "
            "WHERE relnamespace = 'public'::regnamespace ORDER BY relname",
            "SELECT indexrelid::regclass::text, indrelid::regclass::text, indkey::text "
            "FROM pg_index WHERE indrelid::regclass::text NOT LIKE 'pg_%' ORDER BY 1",
            "SELECT extname, extversion FROM pg_extension ORDER BY 1",
            "SELECT attrelid::regclass::text, attname, atttypid FROM pg_attribute "
            "WHERE attrelid IN (SELECT oid FROM pg_class "
            "WHERE relnamespace = 'public'::regnamespace) ORDER BY 1, 2",
        ]
        for sql in catalog:
            digest.update(repr(conn.execute(sql.encode()).fetchall()).encode())
        tables = conn.execute(
            b"SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
        for (table,) in tables:
            sql = f"SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM \"{table}\" t"
            digest.update(repr(conn.execute(sql.encode()).fetchall()).encode())
    return digest.hexdigest()


def checksum_mysql(params: dict[str, Any]) -> str:
    import pymysql

    digest = hashlib.sha256()
    conn = pymysql.connect(**params)
    with conn.cursor() as cur:
        for sql in (
            "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1",
            "SELECT TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME FROM "
            "information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1, 2, 3",
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1, 2",
        ):
            cur.execute(sql)
            digest.update(repr(cur.fetchall()).encode())
        cur.execute("SHOW TABLES")
        for (table,) in sorted(cur.fetchall()):
            cur.execute(f"CHECKSUM TABLE `{table}` EXTENDED")
            digest.update(repr(cur.fetchall()).encode())
    conn.close()
    return digest.hexdigest()
