from perfdoctor.fingerprint import normalize


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
