"""Plain sqlite3, no ORM: capture stores no catalog."""

import sqlite3

conn = sqlite3.connect(":memory:")
conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
for n in range(3):
    conn.execute("INSERT INTO t VALUES (?)", (n,))
print(conn.execute("SELECT count(*) FROM t").fetchone())
