"""benchmarks/request_opcodes.py counts perfdoctor's own instructions on a WSGI
app of one's own (``--wsgi``), and the call-site search's frame lookups.

A small Flask app reads a row per item from SQLite; no figure is asserted beyond
its being counted at all (the figures live in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "request_opcodes.py"

APP = '''
import sqlite3

from flask import Flask

app = Flask(__name__)
conn = sqlite3.connect(":memory:", check_same_thread=False)
conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)")
conn.executemany("INSERT INTO item VALUES (?, ?)", [(i, f"item {i}") for i in range(5)])


@app.get("/items")
def items() -> str:
    ids = [row[0] for row in conn.execute("SELECT id FROM item")]
    return ", ".join(
        conn.execute("SELECT name FROM item WHERE id = ?", (i,)).fetchone()[0] for i in ids
    )
'''


def test_a_wsgi_app_of_ones_own_is_counted(tmp_path: Path) -> None:
    (tmp_path / "shop.py").write_text(APP)
    command = [sys.executable, str(SCRIPT), "--wsgi", "shop:app", "--cwd", str(tmp_path)]
    command += ["--path", "/items", "--path", "/items?again=1", "--requests", "2"]
    command += ["--warmup", "1", "--frames", "--env", "SHOP_MODE=test"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    total = re.search(r"shop:app /items /items\?again=1: perfdoctor's opcodes per request: (\d+)", done.stdout)
    assert total is not None and int(total.group(1)) > 0, done.stdout
    frames = re.search(r"frames looked up by the call-site search per request: (\d+)", done.stdout)
    assert frames is not None and int(frames.group(1)) >= 6, done.stdout  # one a query at least
    assert re.search(r"\d+ +\d+\.\d  record_db\n", done.stdout), done.stdout


def test_a_malformed_setting_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--wsgi", "shop:app", "--env", "NOEQUALS"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr.strip() == "--env wants NAME=VALUE, got 'NOEQUALS'"
