"""On the generated workload the advisor proposes exactly the helpful indexes, on each database,
run as a user runs it: ``perfdoctor indexes --db URL --query ... --format json``."""

from __future__ import annotations

import json
from typing import Any

from tests.advisor import workload
from tests.advisor.conftest import query_args, sqlite_url
from tests.conftest import run_perfdoctor


def _indexes(url: str, *extra: str) -> dict[str, Any]:
    result = run_perfdoctor("indexes", "--db", url, *query_args(), "--format", "json", *extra)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _proposed(data: dict[str, Any]) -> set[tuple[str, tuple[str, ...]]]:
    return {(i["table"], tuple(i["columns"])) for i in data["indexes"]}


def _assert_seed_rules(data: dict[str, Any]) -> None:
    skipped = "\n".join(data["skipped_columns"])
    assert "customers.is_active" in skipped and "low cardinality" in skipped
    assert "countries: 20 rows" in skipped
    tables = {i["table"] for i in data["indexes"]}
    columns = {c for i in data["indexes"] for c in i["columns"]}
    assert "countries" not in tables and "is_active" not in columns
    # The join on customers.id is served by the primary key: no candidate repeats it.
    assert not any("id)" in r["index"] for r in data["rejected"] if r["index"].startswith("cust"))


def _assert_helps(data: dict[str, Any]) -> None:
    by_table = {i["table"]: i for i in data["indexes"]}
    email = by_table["customers"]
    assert {q["sql"] for q in email["queries"]} >= {workload.QUERIES[0]}
    orders = by_table["orders"]
    assert {q["sql"] for q in orders["queries"]} >= {workload.QUERIES[1], workload.QUERIES[2]}
    for index in data["indexes"]:
        for query in index["queries"]:
            assert query["cost_after"] <= query["cost_before"] / 2


def _assert_join_needs_both(data: dict[str, Any]) -> None:
    """The join is credited to the email index too, measured with the orders one in place."""
    by_table = {i["table"]: i for i in data["indexes"]}
    [join] = [q for q in by_table["customers"]["queries"] if q["sql"] == workload.QUERIES[2]]
    assert join["alongside"] == ["orders(customer_id, created_at)"]


def test_sqlite_proposes_the_helpful_indexes(sqlite_workload: str) -> None:
    data = _indexes(sqlite_url(sqlite_workload))
    assert _proposed(data) == workload.EXPECTED
    _assert_seed_rules(data)
    _assert_helps(data)
    _assert_join_needs_both(data)
    index = data["indexes"][0]
    assert index["method"] == "rolled-back CREATE INDEX" and index["verified"] is True
    assert index["migration"]["sql"].startswith("CREATE INDEX ix_")
    assert "models.Index(fields=[" in index["migration"]["django"]
    assert index["migration"]["alembic"].startswith("op.create_index(")


def test_postgres_with_hypopg(pg_workload: str) -> None:
    data = _indexes(pg_workload)
    assert _proposed(data) == workload.EXPECTED
    _assert_seed_rules(data)
    _assert_helps(data)
    _assert_join_needs_both(data)
    assert {i["method"] for i in data["indexes"]} == {"hypopg"}
    assert all(
        i["migration"]["sql"].startswith("CREATE INDEX CONCURRENTLY") for i in data["indexes"]
    )
    assert all("postgresql_concurrently=True" in i["migration"]["alembic"] for i in data["indexes"])


def test_postgres_rolled_back_path(pg_workload: str) -> None:
    data = _indexes(pg_workload, "--no-hypopg", "--allow-locks")
    assert _proposed(data) == workload.EXPECTED
    _assert_seed_rules(data)
    assert {i["method"] for i in data["indexes"]} == {"rolled-back CREATE INDEX"}


def test_mariadb_estimates_and_says_so(mysql_workload: dict[str, Any]) -> None:
    data = _indexes(workload.mysql_url(mysql_workload))
    assert _proposed(data) == workload.EXPECTED
    _assert_seed_rules(data)
    _assert_helps(data)
    for index in data["indexes"]:
        assert index["verified"] is False
        assert "cannot plan with an index that does not exist" in index["why_not_verified"]
        assert "ALGORITHM=INPLACE, LOCK=NONE" in index["migration"]["sql"]
    assert "performance_schema" in (data["unused_note"] or "")


def test_text_output_names_the_evidence(sqlite_workload: str) -> None:
    result = run_perfdoctor("indexes", "--db", sqlite_url(sqlite_workload), *query_args())
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "+ orders(customer_id, created_at)" in out and "+ customers(email)" in out
    assert "VM steps:" in out and "CREATE INDEX ix_customers_email" in out


def test_a_join_alone_gets_an_index_on_each_side(sqlite_workload: str, pg_workload: str) -> None:
    for url in (sqlite_url(sqlite_workload), pg_workload):
        result = run_perfdoctor(
            "indexes", "--db", url, "--query", workload.QUERIES[2], "--format", "json"
        )
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert _proposed(data) == {("orders", ("customer_id",)), ("customers", ("email",))}
        second = [i for i in data["indexes"] if i["queries"][0].get("alongside")]
        assert len(second) == 1
