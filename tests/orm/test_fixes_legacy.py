"""On SQLAlchemy 1.4 itself (its own venv, the 1.4-style models of
sa_models_classic): an N+1 captured by ``perfdoctor run`` in the app's
interpreter gets a fix naming the mapper's attribute, and pasted as printed, the
loop runs in one query.  The venv is the version matrix's (tests/matrix/envs.py),
built by ``make test``: the app's pins and nothing of perfdoctor's."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import findings, report_json, run_perfdoctor
from tests.matrix import envs
from tests.matrix.support import venv_python

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
import perfdoctor
import sqlalchemy
from sqlalchemy.orm import Session, joinedload, selectinload
from tests.orm import sa_models_classic as m

engine = m.make_engine()
with Session(engine) as s:
    for i in range(6):
        s.add(m.Book(title=f"book {i}", author=m.Author(name=f"author {i}")))
    s.commit()

option = sys.argv[1] if len(sys.argv) > 1 else None
space = {"joinedload": joinedload, "selectinload": selectinload, "Book": m.Book, "Author": m.Author}
with perfdoctor.trace("GET /books", "http"):
    with Session(engine) as s:
        query = s.query(m.Book).order_by(m.Book.id)
        if option:
            query = query.options(eval(option, space))
        names = [book.author.name for book in query]
print(json.dumps({"version": sqlalchemy.__version__, "names": names}))
"""


def _run(env: envs.Env, tmp_path: Path, name: str, *option: str) -> tuple[Path, dict[str, object]]:
    script = tmp_path / "books.py"
    script.write_text(SCRIPT)
    traces = tmp_path / f"{name}.db"
    variables = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = run_perfdoctor(
        "run", "--traces", str(traces), "--", str(venv_python(env)), str(script), *option,
        cwd=ROOT, env=variables,
    )
    assert result.returncode == 0, result.stderr
    assert "capture is off" not in result.stderr, result.stderr
    return traces, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("env", envs.selected_with("sqlalchemy", "1.4"), ids=str)
def test_n_plus_one_on_sqlalchemy_14_and_its_fix_pasted(env: envs.Env, tmp_path: Path) -> None:
    traces, before = _run(env, tmp_path, "before")
    assert before["version"] == env.pin("sqlalchemy")
    [finding] = findings(report_json(traces, cwd=ROOT), "n-plus-one-query", "GET /books")
    # Book.author over column writer_id: no table-derived name.
    assert "joinedload(Book.author)" in finding["fix"], finding["fix"]
    [option] = finding["evidence"]["orm_fix"]["options"]
    fixed, after = _run(env, tmp_path, "after", option)
    assert after["names"] == before["names"]
    report = report_json(fixed, cwd=ROOT)
    assert findings(report, "n-plus-one-query") == []
    [endpoint] = [e for e in report["endpoints"] if e["name"] == "GET /books"]
    assert endpoint["queries_per_request"] == 1
