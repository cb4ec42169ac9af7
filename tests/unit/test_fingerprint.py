import pytest

from perfdoctor.fingerprint import has_placeholders, normalize


def test_literal_variants_share_one_fingerprint() -> None:
    a = normalize("SELECT * FROM author WHERE id = 1 AND name = 'bob'")
    b = normalize("SELECT * FROM author WHERE id = 42 AND name = 'alice'")
    assert a.fingerprint == b.fingerprint
    assert a.statement == "SELECT * FROM author WHERE id = ? AND name = ?"


def test_in_lists_of_any_length_share_one_fingerprint() -> None:
    one = normalize("SELECT * FROM t WHERE id IN (1)")
    many = normalize("SELECT * FROM t WHERE id IN (1, 2, 3, 4, 5, 6, 7)")
    params = normalize("SELECT * FROM t WHERE id IN (?, ?, ?)")
    assert one.fingerprint == many.fingerprint == params.fingerprint
    assert many.statement == "SELECT * FROM t WHERE id IN (...)"


def test_placeholder_styles_are_one_shape() -> None:
    styles = [
        "SELECT name FROM t WHERE id = ?",
        "SELECT name FROM t WHERE id = %s",
        "SELECT name FROM t WHERE id = %(id)s",
        "SELECT name FROM t WHERE id = :id",
        "SELECT name FROM t WHERE id = $1",
    ]
    assert len({normalize(s).fingerprint for s in styles}) == 1


def test_multi_row_values_collapse() -> None:
    a = normalize("INSERT INTO t (a, b) VALUES (1, 'x')")
    b = normalize("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')")
    assert a.fingerprint == b.fingerprint


def test_no_literal_survives() -> None:
    text = normalize("SELECT 'secret-token', E'x', N'y', 3.14 FROM t WHERE a = 'it''s'").statement
    for leaked in ("secret-token", "3.14", "it", "'"):
        assert leaked not in text.replace("SELECT", "").replace("FROM", "")


def test_structure_is_kept() -> None:
    pg = normalize('SELECT "a"."id"::int FROM "author" "a" WHERE "a"."id" = 7 LIMIT 21')
    assert pg.statement == 'SELECT "a"."id"::int FROM "author" "a" WHERE "a"."id" = ? LIMIT ?'
    assert normalize("SELECT * FROM a").fingerprint != normalize("SELECT * FROM b").fingerprint


def test_unparseable_text_still_normalises() -> None:
    result = normalize("SELECT 'unterminated FROM t WHERE id = 5")
    assert "5" not in result.statement


def test_only_in_lists_and_values_rows_collapse() -> None:
    assert normalize("SELECT coalesce(?, ?) FROM t").statement == "SELECT coalesce(?, ?) FROM t"


def test_postgres_literal_forms_leave_nothing_behind() -> None:
    sql = "SELECT $$body 'x' 42$$, $tag$ secret $tag$, E'it\\'s', X'4142', 0x1F, .5, 3.5e10 FROM t1"
    assert normalize(sql).statement == "SELECT ?, ?, ?, ?, ?, ?, ? FROM t1"


def test_django_like_escape_is_one_string() -> None:
    # Django writes ESCAPE '\' on SQLite and PostgreSQL: the backslash does not
    # escape the quote, so what follows is still SQL.
    sql = 'SELECT "p"."id" FROM "p" WHERE "p"."title" LIKE %s ESCAPE \'\\\' ORDER BY "p"."id" ASC'
    assert normalize(sql).statement == (
        'SELECT "p"."id" FROM "p" WHERE "p"."title" LIKE ? ESCAPE ? ORDER BY "p"."id" ASC'
    )


def test_names_and_quoted_names_keep_their_digits() -> None:
    sql = 'SELECT t1.c2, "col 3", `x4` FROM t1 WHERE a::int4 = 5 -- note 6'
    assert normalize(sql).statement == 'SELECT t1.c2, "col 3", `x4` FROM t1 WHERE a::int4 = ? -- note 6'


def test_normalising_needs_only_the_standard_library() -> None:
    # It runs inside the user's app, whose venv may hold none of perfdoctor's dependencies.
    import subprocess
    import sys
    from pathlib import Path

    import perfdoctor

    code = (
        "import sys; from perfdoctor.fingerprint import normalize; "
        "print(normalize(\"SELECT 1 FROM t WHERE a = 'x'\").statement); "
        "print(sorted(m for m in ('sqlglot', 'click', 'rich', 'jinja2') if m in sys.modules))"
    )
    src = str(Path(perfdoctor.__file__).parent.parent)
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {src!r}); {code}"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    assert out == ["SELECT ? FROM t WHERE a = ?", "[]"]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # node-postgres, psycopg, sqlite3, SQLAlchemy's text(), pyformat by name
        ("SELECT name FROM author WHERE id = $1", True),
        ("SELECT name FROM author WHERE id = %s", True),
        ("SELECT name FROM author WHERE id = ?", True),
        ("SELECT name FROM author WHERE id = :id", True),
        ("SELECT name FROM author WHERE id = %(id)s", True),
        # the values are in the text itself: it tells runs apart on its own
        ("SELECT name FROM author WHERE id = 5 LIMIT 30", False),
        ("SELECT '$1', x::int FROM t", False),
        ("SELECT count(*) FROM author", False),
    ],
)
def test_has_placeholders(sql: str, expected: bool) -> None:
    assert has_placeholders(sql) is expected
