"""A Django management command under ``perfdoctor run``: one trace, and unchanged results."""

from __future__ import annotations

import json
import subprocess
import sys

from perfdoctor import store
from tests.capture.conftest import SITE, DjangoSite, in_views
from tests.conftest import run_perfdoctor

COMMAND = [sys.executable, "manage.py", "rawstats"]
COMMAND_FILE = SITE / "blog" / "management" / "commands" / "rawstats.py"


def test_a_command_returns_the_same_results_under_capture_and_is_one_trace(
    django_sqlite: DjangoSite,
) -> None:
    env = django_sqlite.env
    plain = subprocess.run(COMMAND, cwd=SITE, env=env, capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0, plain.stderr
    captured = run_perfdoctor("run", "--traces", str(django_sqlite.traces), "--", *COMMAND,
                              cwd=SITE, env=env)
    assert captured.returncode == 0, captured.stderr
    # Raw SQL without parameters keeps its % signs as they are (Django reads %s
    # placeholders only when parameters are given), with or without capture.
    assert json.loads(captured.stdout) == json.loads(plain.stdout)
    assert json.loads(plain.stdout)["slugs_with_an_s"] == 1  # the seeded secret article

    [trace] = store.load_traces(django_sqlite.traces)
    assert trace.name == "manage.py rawstats"
    assert trace.kind == "script"
    reports = [s for s in trace.db_spans() if s.location and s.location.path == str(COMMAND_FILE)]
    # After the queries Django runs to set the connection up, the three reports.
    assert [s.statement for s in reports][-3:] == [
        "SELECT COUNT(*) FROM blog_article WHERE slug LIKE ?",
        "SELECT ?",
        "SELECT COUNT(*) FROM blog_article",
    ]
    assert all(s.framework == "django" for s in reports)
    assert not any(in_views(s.location.path) for s in trace.db_spans() if s.location)
