"""A plain psycopg 3 script with an N+1: ``python pg_script.py POSTGRES_URL``."""

from __future__ import annotations

import sys

import psycopg

CITIES = 9


def main(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE country (id serial PRIMARY KEY, name text)")
        conn.execute("CREATE TABLE city (id serial PRIMARY KEY, country_id int, name text)")
        for number in range(CITIES):
            country = conn.execute(
                "INSERT INTO country (name) VALUES (%s) RETURNING id", (f"country {number}",)
            ).fetchone()
            assert country is not None
            conn.execute(
                "INSERT INTO city (country_id, name) VALUES (%s, %s)", (country[0], "param-s3cret")
            )
        conn.execute("SELECT count(*) FROM city WHERE name = 'literal-s3cret'").fetchone()
        cities = conn.execute("SELECT id, country_id FROM city ORDER BY id").fetchall()
        for _city_id, country_id in cities:  # loop: pg_script
            query = "SELECT name FROM country WHERE id = %s"
            conn.execute(query, (country_id,)).fetchone()  # n+1: pg_script


if __name__ == "__main__":
    main(sys.argv[1])
