"""The workload's reads as an app makes them: parameters bound, one trace per "endpoint".

``python shop_script.py DB_PATH``
"""

from __future__ import annotations

import sqlite3
import sys

import perfdoctor


def main(path: str) -> None:
    conn = sqlite3.connect(path)
    for n in range(1, 6):
        with perfdoctor.trace("GET /customers/{email}"):
            conn.execute(
                "SELECT id, email FROM customers WHERE email = ?", (f"user{n}@example.com",)
            ).fetchall()
        with perfdoctor.trace("GET /customers/{id}/orders"):
            conn.execute(
                "SELECT * FROM orders WHERE customer_id = ? ORDER BY created_at DESC LIMIT ?",
                (n, 20),
            ).fetchall()
        with perfdoctor.trace("GET /stats/active"):
            conn.execute("SELECT COUNT(*) FROM customers WHERE is_active = ?", (1,)).fetchall()
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1])
