"""Runs one query, then a child Python script: ``python parent.py DB_PATH``."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

CHILD = Path(__file__).with_name("child.py")


def main(path: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, note TEXT)")
    conn.execute("INSERT INTO runs (note) VALUES ('parent')")
    conn.commit()
    conn.close()
    subprocess.run([sys.executable, str(CHILD), path], check=True)


if __name__ == "__main__":
    main(sys.argv[1])
