"""Holds a trace store the way another process would, until told to let go.

    python hold_store.py STORE exclusive|read

``exclusive``: ``BEGIN EXCLUSIVE`` (a backup, or a second writer mid-transaction);
``read``: a long read transaction (a long ``perfdoctor report``).  Prints ``held``
once it holds the store, then releases it when a line (or EOF) arrives on stdin.
"""

from __future__ import annotations

import sqlite3
import sys


def main() -> None:
    path, mode = sys.argv[1], sys.argv[2]
    conn = sqlite3.connect(path, isolation_level=None)
    if mode == "exclusive":
        conn.execute("BEGIN EXCLUSIVE")
    else:
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM traces").fetchone()
    print("held", flush=True)
    sys.stdin.readline()
    conn.execute("ROLLBACK")
    conn.close()


if __name__ == "__main__":
    main()
