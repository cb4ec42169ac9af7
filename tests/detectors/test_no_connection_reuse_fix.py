"""The connection-reuse fix names only the settings the app's Django has."""

from __future__ import annotations

from perfdoctor.detectors.no_connection_reuse import remedy


def test_django_3_2_is_not_told_to_set_what_it_lacks() -> None:
    # healthchecks v1.22 (Django 3.2.6, psycopg2): CONN_HEALTH_CHECKS came in 4.1,
    # the connection pool option in 5.1.
    text = remedy("django", "postgresql", "3.2.6")
    assert "CONN_MAX_AGE'] = 60 so each worker" in text
    assert "CONN_HEALTH_CHECKS" not in text and '"pool"' not in text


def test_django_5_2_gets_health_checks_and_the_pool() -> None:
    text = remedy("django", "postgresql", "5.2.19")
    assert "(with CONN_HEALTH_CHECKS = True) so" in text and '"pool": True' in text


def test_an_unknown_version_gets_each_setting_with_the_release_it_needs() -> None:
    text = remedy("django", "postgresql", None)
    assert "CONN_HEALTH_CHECKS = True on Django 4.1+" in text and "Django 5.1+" in text


def test_a_pooler_is_named_only_in_front_of_postgresql() -> None:
    # healthchecks on SQLite (Django 6.1) was told to put PgBouncer in front of PostgreSQL.
    for framework in ("django", "sqlalchemy", None):
        assert "PgBouncer" not in remedy(framework, "sqlite", "6.1")
        assert "PgBouncer" in remedy(framework, "postgresql", "6.1")
    assert "PgBouncer" not in remedy("django", "mysql", "6.1")
    assert "sqlite3.connect()" in remedy(None, "sqlite")
