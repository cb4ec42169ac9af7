"""`perfdoctor audit` end to end: the index advisor on the demo's own database (its
trial indexes rolled back), and the next steps for the user's own app."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from perfdoctor.demo import ENV_DATABASE
from perfdoctor.demo.next_steps import NEXT_STEPS
from perfdoctor.demo.seed import ensure_seeded
from tests.conftest import run_perfdoctor
from tests.terminal.tty import run_on_tty


def _schema(database: Path) -> list[tuple[str, ...]]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")
        return [tuple(row) for row in rows]


def _rows(database: Path) -> dict[str, int]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return {
            table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            for table in ("authors", "articles", "comments", "tags", "article_tags")
        }


@dataclass
class Audited:
    database: Path
    schema_before: list[tuple[str, ...]]
    rows_before: dict[str, int]
    returncode: int
    stdout: str
    stderr: str


def _audit(folder: Path, *options: str, tty: bool = False) -> Audited:
    """``perfdoctor audit --rounds 1`` on a freshly seeded demo database; ``tty``:
    with stderr on a pseudo-terminal, as when a person runs it."""
    database = folder / "demo.sqlite"
    ensure_seeded(database, lambda _: None)
    schema, rows = _schema(database), _rows(database)
    env = {**os.environ, ENV_DATABASE: str(database)}
    args = ("audit", "--rounds", "1", "--traces", str(folder / "traces.db"), *options)
    if tty:
        ran = run_on_tty(*args, tty="stderr", cwd=folder, env=env, timeout=600)
        return Audited(database, schema, rows, ran.returncode, ran.piped, ran.terminal)
    result = run_perfdoctor(*args, cwd=folder, env=env, timeout=600)
    return Audited(database, schema, rows, result.returncode, result.stdout, result.stderr)


@pytest.fixture(scope="module")
def text_audit(tmp_path_factory: pytest.TempPathFactory) -> Audited:
    return _audit(tmp_path_factory.mktemp("audit-text"), tty=True)


@pytest.fixture(scope="module")
def json_audit(tmp_path_factory: pytest.TempPathFactory) -> Audited:
    return _audit(tmp_path_factory.mktemp("audit-json"), "--format", "json")


def test_audit_shows_a_verified_missing_index_with_its_migration(text_audit: Audited) -> None:
    assert text_audit.returncode == 0, text_audit.stderr
    out = text_audit.stdout
    # The unindexed comments.author_id of the top-commenters page, proven by a trial.
    assert "missing-index" in out
    assert "Missing index comments(author_id): query cost" in out
    assert "% lower) with it" in out
    assert "verified by: rolled-back CREATE INDEX" in out
    # On the page the index saves the most work: the leaderboard's correlated count.
    assert "missing-index  GET /stats/top-commenters" in out
    assert 'CREATE INDEX ix_comments_author_id ON "comments" ("author_id");' in out
    assert 'models.Index(fields=["author_id"], name="ix_comments_author_id")' in out
    assert 'op.create_index("ix_comments_author_id", "comments", ["author_id"])' in out
    assert re.search(
        r"Index advisor: \d+ index(es)? proven on the demo database", text_audit.stderr
    )


def test_one_finding_per_index_naming_the_other_endpoints(text_audit: Audited) -> None:
    panels = [line for line in text_audit.stdout.splitlines() if "missing-index" in line]
    titles = [line for line in text_audit.stdout.splitlines() if "Missing index " in line]
    assert len(panels) == len(titles) == len(set(titles)) >= 1, panels
    assert "also helps: " in text_audit.stdout


def test_the_demo_database_is_unchanged(text_audit: Audited, json_audit: Audited) -> None:
    for audited in (text_audit, json_audit):
        assert _schema(audited.database) == audited.schema_before
        assert _rows(audited.database) == audited.rows_before
        assert not any("perfdoctor_trial" in str(row) for row in _schema(audited.database))
    # The index the advisor proposes is not there: it was tried, then rolled back.
    assert not any(row[1] == "ix_comments_author_id" for row in text_audit.schema_before)


def test_audit_ends_with_three_next_steps(text_audit: Audited) -> None:
    tail = text_audit.stdout.rstrip().splitlines()[-7:]
    assert tail[0] == "Next: perfdoctor on your own app"
    assert [line.strip() for line in tail[1::2]] == [
        "perfdoctor run -- <your server command>",
        "pytest --perfdoctor",
        "perfdoctor lint .",
    ]
    # Each with one line of what it gives.
    assert [line.strip() for line in tail[2::2]] == [gives for _, gives in NEXT_STEPS]


def test_json_audit_has_the_finding_and_nothing_else_on_stdout(json_audit: Audited) -> None:
    assert json_audit.returncode == 0, json_audit.stderr
    report = json.loads(json_audit.stdout)  # no next steps, no progress mixed in
    found = [f for f in report["findings"] if f["id"] == "missing-index"]
    indexes = [(f["evidence"]["table"], tuple(f["evidence"]["columns"])) for f in found]
    assert ("comments", ("author_id",)) in indexes
    assert len(set(indexes)) == len(indexes)  # one finding per index
    comments = next(f for f in found if f["evidence"]["table"] == "comments")
    assert comments["evidence"]["verified"] is True
    assert comments["evidence"]["cost_after"] < comments["evidence"]["cost_before"] / 2
    assert "CREATE INDEX ix_comments_author_id" in comments["fix"]
    # Quiet on stderr too: no progress, no done notes around machine output.
    assert "✓" not in json_audit.stderr
    assert "Requesting every endpoint" not in json_audit.stderr


def test_progress_on_a_terminal(text_audit: Audited) -> None:
    for stage in ("Requesting every endpoint", "Planning queries", "Trying candidate indexes"):
        assert stage in text_audit.stderr, stage
    assert "Requesting every endpoint" not in text_audit.stdout
