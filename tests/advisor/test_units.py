"""Small pieces: URLs, candidate order, migrations, the SELECT guard."""

from __future__ import annotations

import pytest

from perfdoctor.advisor.candidates import Candidate
from perfdoctor.advisor.connection import parse_url
from perfdoctor.advisor.indexes import Index, duplicates
from perfdoctor.advisor.output import django_name, migrations
from perfdoctor.advisor.queries import Query, prepare
from perfdoctor.errors import DatabaseError


def test_urls() -> None:
    assert parse_url("sqlite:///app.db").database == "app.db"
    assert parse_url("sqlite:////abs/app.db").database == "/abs/app.db"
    url = parse_url("mariadb://root:s3cret@db.local:3307/shop")
    assert (url.dialect, url.host, url.port, url.password) == ("mysql", "db.local", 3307, "s3cret")
    assert "s3cret" not in url.display
    assert parse_url("postgresql+psycopg://u@h/d").dialect == "postgresql"
    with pytest.raises(DatabaseError):
        parse_url("oracle://x/y")


def test_migrations_per_dialect() -> None:
    cand = Candidate("orders", ("customer_id", "created_at"))
    pg = migrations("postgresql", cand)
    assert pg["sql"] == (
        'CREATE INDEX CONCURRENTLY ix_orders_customer_id_created_at ON "orders" '
        '("customer_id", "created_at");'
    )
    assert "autocommit_block" in pg["alembic"] and "postgresql_concurrently=True" in pg["alembic"]
    assert migrations("sqlite", cand)["alembic"] == (
        'op.create_index("ix_orders_customer_id_created_at", "orders", '
        '["customer_id", "created_at"])'
    )
    assert len(django_name(cand)) <= 30


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("INSERT INTO t VALUES (1)", "not a SELECT (INSERT)"),
        ("SELECT * INTO t2 FROM t", "writes"),
        ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "writes"),
        ("SELECT * FROM t FOR UPDATE", "row locks"),
        ("SELECT 1", "reads no table"),
    ],
)
def test_select_guard(sql: str, reason: str) -> None:
    assert reason in (prepare(Query(sql, "test"), "postgresql", 100_000).skipped or "")


def test_stored_statement_parses() -> None:
    query = prepare(
        Query("SELECT * FROM t AS x WHERE x.a IN (...) AND b = ? LIMIT ?", "traces"),
        "postgresql",
        100_000,
    )
    assert query.skipped is None
    assert query.aliases == {"x": "t", "t": "t"} and query.placeholders == 3


def test_duplicates_keep_unique_and_primary() -> None:
    found = duplicates(
        [
            Index("pk", "t", ("id",), unique=True, primary=True),
            Index("t_id", "t", ("id",)),
            Index("t_a", "t", ("a",), unique=True),
            Index("t_a_b", "t", ("a", "b")),
            Index("t_c", "t", ("c",)),
            Index("t_c2", "t", ("c",)),
        ]
    )
    assert {(a.name, b.name) for a, b in found} == {("t_id", "pk"), ("t_c2", "t_c")}
