"""The loop's list is the query it walks, even when the page draws the list twice.

Wagtail's bakery demo draws its menu twice (desktop and mobile): each time the
menu's pages are listed, then each page is asked whether it has children. The
list ran twice, so it was taken for a sibling N+1 and the one-row settings
lookup before it was named as the loop's list."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import perfdoctor
from perfdoctor.analysis.analyze import analyze
from perfdoctor.model import Finding
from perfdoctor.settings import Settings
from tests.inprocess import capturing, load

MENU_ITEMS = 5
LIST = "SELECT id, path FROM page WHERE depth = 2 AND in_menu ORDER BY path"


def _db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE page (id INTEGER PRIMARY KEY, path TEXT, depth INT, in_menu INT)")
    conn.execute("CREATE TABLE settings (id INTEGER PRIMARY KEY, site_id INT, title TEXT)")
    conn.execute("INSERT INTO settings (site_id, title) VALUES (1, 'Bakery')")
    rows = [(f"0001{i:04d}", 2, 1) for i in range(MENU_ITEMS)]
    rows += [(f"0001{i:04d}0001", 3, 1) for i in range(0, MENU_ITEMS, 2)]
    conn.executemany("INSERT INTO page (path, depth, in_menu) VALUES (?, ?, ?)", rows)
    return conn


def _menu(conn: sqlite3.Connection) -> list[bool]:
    items = conn.execute(LIST).fetchall()
    return [
        conn.execute(  # has_menu_children, once per item
            "SELECT 1 FROM page WHERE depth = ? AND path BETWEEN ? AND ? AND in_menu LIMIT 1",
            (3, path, path + "ZZZZ"),
        ).fetchone()
        is not None
        for _id, path in items
    ]


def _n_plus_one(tmp_path: Path, menus: int) -> Finding:
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = _db()
        for _ in range(3):
            with perfdoctor.trace("GET /bakery", "http"):
                conn.execute("SELECT title FROM settings WHERE site_id = ?", (1,)).fetchone()
                for _ in range(menus):
                    _menu(conn)
    found = [f for f in analyze(load(traces), Settings()).findings if f.id == "n-plus-one-query"]
    assert len(found) == 1, found
    return found[0]


def test_a_list_drawn_twice_is_still_the_loop_s_list(tmp_path: Path) -> None:
    finding = _n_plus_one(tmp_path, menus=2)
    assert finding.evidence["count"] == 2 * MENU_ITEMS
    assert finding.evidence["parent_statement"] == LIST.replace("2", "?").replace(
        " in_menu", " in_menu"
    )


def test_a_list_drawn_once(tmp_path: Path) -> None:
    finding = _n_plus_one(tmp_path, menus=1)
    assert finding.evidence["count"] == MENU_ITEMS
    assert finding.evidence["parent_statement"] == LIST.replace("2", "?")
