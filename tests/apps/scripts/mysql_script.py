"""A plain PyMySQL script with an N+1: ``python mysql_script.py HOST PORT USER DATABASE``."""

from __future__ import annotations

import sys

import pymysql

SHELVES = 7


def main(host: str, port: str, user: str, database: str) -> None:
    conn = pymysql.connect(host=host, port=int(port), user=user, password="", database=database)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE shelf (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50))")
        cur.execute("CREATE TABLE box (id INT AUTO_INCREMENT PRIMARY KEY, shelf_id INT)")
        cur.executemany("INSERT INTO shelf (name) VALUES (%s)", [("param-s3cret",)] * SHELVES)
        cur.executemany("INSERT INTO box (shelf_id) VALUES (%s)", [(n + 1,) for n in range(SHELVES)])
        cur.execute("SELECT count(*) FROM shelf WHERE name = 'literal-s3cret'")
        cur.execute("SELECT id, shelf_id FROM box ORDER BY id")
        boxes = cur.fetchall()
        for _box_id, shelf_id in boxes:  # loop: mysql_script
            cur.execute("SELECT name FROM shelf WHERE id = %s", (shelf_id,))  # n+1: mysql_script
            cur.fetchone()
    conn.commit()
    conn.close()


if __name__ == "__main__":
    main(*sys.argv[1:5])
