"""Real captured stores for the report formats: an N+1 endpoint and its fixed twin."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import perfdoctor
from perfdoctor.cli import main
from tests.compare.samples import endpoint, finding, latencies, result, write
from tests.inprocess import blog_db, capturing

AUTHOR_BY_ID = "SELECT name FROM author WHERE id = ?"


def n_plus_one_store(
    tmp_path: Path, endpoint_name: str = "GET /articles", requests: int = 2
) -> Path:
    traces = tmp_path / "traces.db"
    with capturing(traces):
        conn = blog_db()
        for _ in range(requests):
            with perfdoctor.trace(endpoint_name, "http"):
                for (author_id,) in conn.execute("SELECT author_id FROM article").fetchall():
                    conn.execute(AUTHOR_BY_ID, (author_id,)).fetchone()  # N+1 LINE
            with perfdoctor.trace("GET /articles/fixed", "http"):
                conn.execute(
                    "SELECT article.title, author.name FROM article JOIN author ON author.id = article.author_id"
                ).fetchall()
    return traces


N_PLUS_ONE_LINE = next(
    i
    for i, line in enumerate(Path(__file__).read_text().splitlines(), 1)
    if line.endswith("# N+1 LINE")
)


def compare_file(tmp_path: Path) -> Path:
    """A real `perfdoctor compare --format json` result: the N+1 endpoint got faster."""
    before = write(
        tmp_path / "before.json",
        result({"GET /articles": endpoint(latencies(1, median_ms=40.0), 21.0)}, [finding()]),
    )
    after = write(
        tmp_path / "after.json",
        result({"GET /articles": endpoint(latencies(2, median_ms=12.0), 1.0)}, []),
    )
    out = CliRunner().invoke(main, ["compare", before, after, "--format", "json", "--seed", "1"])
    assert out.exit_code == 0, out.output
    path = tmp_path / "compare.json"
    path.write_text(out.stdout, encoding="utf-8")
    assert json.loads(out.stdout)["tool"] == "perfdoctor compare"
    return path
