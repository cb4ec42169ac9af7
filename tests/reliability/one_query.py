"""A script that runs one query and ends: ``python one_query.py``."""

import sqlite3

sqlite3.connect(":memory:").execute("SELECT 1").fetchall()
print("queried", flush=True)
