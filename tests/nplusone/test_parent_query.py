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


TYPES = ("bread", "location", "blog")


def _cards(conn: sqlite3.Connection) -> None:
    """A home page's sections, each its index's children as their own page type
    (Wagtail's .specific(): the pages, then the type's rows by their ids), each
    blog card's rendition looked up, then again where get_or_create makes it."""
    for section, kind in enumerate(TYPES):
        pages = conn.execute(
            "SELECT id FROM page WHERE depth = 3 AND path LIKE ? ORDER BY path",
            (f"0001{section:04d}%",),
        ).fetchall()
        ids = [page_id for (page_id,) in pages]
        marks = ", ".join("?" * len(ids))
        rows = conn.execute(
            f"SELECT page_id, image_id FROM {kind} WHERE page_id IN ({marks})", ids
        ).fetchall()
        if kind != "blog":
            continue  # titles only: the blog's cards have pictures
        for _page_id, image_id in rows:
            for _ in range(2):  # the lookup, and get_or_create's own
                conn.execute(
                    "SELECT id FROM rendition WHERE image_id = ? AND spec = ?", (image_id, "fill")
                ).fetchone()


def test_a_list_whose_rows_got_two_queries_each_is_the_loop_s_list(tmp_path: Path) -> None:
    # Wagtail 7.4's bakery demo: the sections' page listing (three runs, 3 rows
    # each) was taken for the list of a loop of 6 rendition queries over 3 cards,
    # and its fix named Page.homepage.image.renditions and three more.
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE page (id INTEGER PRIMARY KEY, path TEXT, depth INT)")
        conn.execute("CREATE TABLE rendition (id INTEGER PRIMARY KEY, image_id INT, spec TEXT)")
        for section, kind in enumerate(TYPES):
            conn.execute(f"CREATE TABLE {kind} (page_id INTEGER PRIMARY KEY, image_id INT)")
            for card in range(3):
                path = f"0001{section:04d}{card:04d}"
                conn.execute("INSERT INTO page (path, depth) VALUES (?, 3)", (path,))
                conn.execute(f"INSERT INTO {kind} SELECT id, id FROM page WHERE path = ?", (path,))
        for _ in range(3):
            with perfdoctor.trace("GET /home", "http"):
                _cards(conn)
    found = [f for f in analyze(load(traces), Settings()).findings if f.id == "n-plus-one-query"]
    assert [f.evidence["parent_statement"] for f in found] == [
        "SELECT page_id, image_id FROM blog WHERE page_id IN (...)"
    ]


def test_rows_read_back_one_by_one_are_the_loop_s_rows(tmp_path: Path) -> None:
    # django-oscar's catalogue: a search index gives the page's product ids, each
    # product is read back by id, then its stock records are read. The menu's
    # categories, read before, were taken for the loop's list, and the stock
    # records' fix named Category.product_set.stockrecords.
    traces = tmp_path / "t.db"
    with capturing(traces):
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE category (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("CREATE TABLE product (id INTEGER PRIMARY KEY, title TEXT)")
        conn.execute("CREATE TABLE stockrecord (id INTEGER PRIMARY KEY, product_id INT)")
        conn.executemany("INSERT INTO category (name) VALUES (?)", [(f"c{i}",) for i in range(4)])
        conn.executemany("INSERT INTO product (title) VALUES (?)", [(f"p{i}",) for i in range(8)])
        conn.execute("INSERT INTO stockrecord (product_id) SELECT id FROM product")
        conn.execute("CREATE TABLE image (id INTEGER PRIMARY KEY, product_id INT)")
        hits = list(range(1, 9))  # what the search engine answered
        for _ in range(3):
            with perfdoctor.trace("GET /catalogue", "http"):
                conn.execute("SELECT id, name FROM category ORDER BY name").fetchall()
                for product_id in hits:
                    conn.execute("SELECT id, title FROM product WHERE id = ?", (product_id,)).fetchone()
                    conn.execute(
                        "SELECT id FROM stockrecord WHERE product_id = ?", (product_id,)
                    ).fetchall()
                    conn.execute(
                        "SELECT id FROM image WHERE product_id = ?", (product_id,)
                    ).fetchall()
    found = {
        f.evidence["statement"]: f.evidence["parent_statement"]
        for f in analyze(load(traces), Settings()).findings
        if f.id == "n-plus-one-query"
    }
    # Each product's one stock record is a sibling, not the images' row.
    for per_product in ("stockrecord", "image"):
        assert found[f"SELECT id FROM {per_product} WHERE product_id = ?"] == (
            "SELECT id, title FROM product WHERE id = ?"
        )
    # The products themselves still hang off the list before them.
    assert found["SELECT id, title FROM product WHERE id = ?"] == (
        "SELECT id, name FROM category ORDER BY name"
    )
