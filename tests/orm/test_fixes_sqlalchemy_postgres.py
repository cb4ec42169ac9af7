"""SQLAlchemy on psycopg 3 and PostgreSQL: fixes named from the models, and they run.

SQLAlchemy casts each parameter there (``%(pk_1)s::INTEGER``), which the SQL
reader could not parse, so every fix on this stack fell back to a generic text
with no relation named. microblog's index page loops over a grouped select
(``following_posts()``, GROUP BY) reading post.author per row. The joinedload
printed for it ran here, where SQLAlchemy 2.1 nests a grouped query for it; pasted
into microblog, pinned at SQLAlchemy 2.0.23, it failed on PostgreSQL (GroupingError:
the joined columns outside GROUP BY). A grouped loop query now gets selectinload,
which runs on every version.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import ForeignKey, String, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from tests.orm.fix_support import apply_sqlalchemy, captured, n_plus_one, queries, run

ROWS = 6


class _Base(DeclarativeBase):
    pass


class Writer(_Base):
    __tablename__ = "gb_writers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class Note(_Base):
    __tablename__ = "gb_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(50))
    writer_id: Mapped[int] = mapped_column(ForeignKey("gb_writers.id"))
    writer: Mapped[Writer] = relationship()


@pytest.fixture
def env(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Path, Engine]]:
    traces = tmp_path / "traces.db"
    with captured(traces):
        engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
        _Base.metadata.create_all(engine)
        with Session(engine) as s:
            writers = [Writer(name=f"w{i}") for i in range(ROWS)]
            s.add_all(Note(body=f"n{i}", writer=writers[i]) for i in range(ROWS))
            s.commit()
        yield traces, engine
        engine.dispose()


def test_a_grouped_loop_query_gets_a_selectinload_that_runs_on_postgres(
    env: tuple[Path, Engine],
) -> None:
    traces, engine = env
    # As microblog's following_posts(): the rows grouped, to drop duplicates of a join.
    grouped = select(Note).join(Note.writer).group_by(Note).order_by(Note.id)

    def over(statement: Any) -> list[str]:
        with Session(engine) as s:
            return [note.writer.name for note in s.scalars(statement)]

    before = run("grouped", lambda: over(grouped))
    [finding] = n_plus_one(traces, "grouped")
    assert ".options(selectinload(Note.writer))" in finding.fix, finding.fix
    assert "GROUP BY" in finding.fix
    fixed = apply_sqlalchemy(grouped, finding.evidence["orm_fix"])
    assert run("grouped fixed", lambda: over(fixed)) == before
    assert queries(traces, "grouped fixed") == 2  # the notes, then their writers


def test_a_plain_loop_query_gets_the_relation_named(env: tuple[Path, Engine]) -> None:
    traces, engine = env
    plain = select(Note).order_by(Note.id)

    def over(statement: Any) -> list[str]:
        with Session(engine) as s:
            return [note.writer.name for note in s.scalars(statement)]

    before = run("plain", lambda: over(plain))
    [finding] = n_plus_one(traces, "plain")
    assert "joinedload(Note.writer)" in finding.fix, finding.fix
    fixed = apply_sqlalchemy(plain, finding.evidence["orm_fix"])
    assert run("plain fixed", lambda: over(fixed)) == before
    assert queries(traces, "plain fixed") == 1
