"""Each distinct statement is parsed once, however many spans ran it and
however many shapes the store holds (more than the parse-tree cache keeps)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import sqlglot

from perfdoctor import store
from perfdoctor.analysis.analyze import analyze_chunks
from perfdoctor.detectors import _db, _sql
from perfdoctor.fingerprint import normalize
from perfdoctor.model import Location, Span, Trace
from perfdoctor.orm import shape
from perfdoctor.settings import Settings
from perfdoctor.store import chunks

SHAPES = 1_500  # more than the 1024 parse trees kept
SITE = Location("/srv/app/views.py", 10, "view")


def trace(i: int) -> Trace:
    spans = []
    for j in range(30):
        n = (i * 7 + j * 31) % SHAPES
        sql = (
            f"SELECT a, b FROM t{n} WHERE id = {i} AND k > {j}" if n % 3 else f"SELECT * FROM t{n}"
        )
        norm = normalize(sql)
        spans.append(
            Span(
                kind="db",
                start_ms=j * 2.0,
                duration_ms=1.0,
                location=SITE,
                stack=[SITE],
                system="postgresql",
                statement=norm.statement,
                fingerprint=norm.fingerprint,
                params_digest=f"p{i}.{j}",
                rows=5_000,
                connection_id=1,
            )
        )
    return Trace(
        id=f"t{i}",
        name=f"GET /page/{i % 4}",
        kind="http",
        started_at=1_700_000_000.0 + i,
        duration_ms=70.0,
        status=200,
        spans=spans,
    )


@pytest.fixture
def many_shapes(tmp_path: Path) -> Path:
    path = tmp_path / "traces.db"
    conn = store.open_for_writing(path)
    store.write_traces(conn, [trace(i) for i in range(400)])
    conn.close()
    return path


def test_each_statement_is_parsed_once(many_shapes: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for cached in (
        _sql._parse,
        _sql.is_read,
        _sql.main_table,
        _sql.tables_of,
        _db._facts,
        shape.shape,
    ):
        cached.cache_clear()
    parsed: Counter[str] = Counter()
    real = sqlglot.parse_one

    def counting(sql: str, *args: object, **kwargs: object) -> object:
        parsed[sql] += 1
        return real(sql, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sqlglot, "parse_one", counting)
    analysis = analyze_chunks(chunks.read(many_shapes, 50).chunks(), Settings())
    assert analysis.traces == 400
    assert len(parsed) > 1_024
    assert max(parsed.values()) == 1, parsed.most_common(3)
