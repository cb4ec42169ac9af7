"""The hot path's remembered walks (:func:`perfdoctor.callsite.capture_caller`)
give the call site, framework and trigger the full walk gives, on real Django
(DRF serializers, templates), Flask + SQLAlchemy and FastAPI + SQLAlchemy requests."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_perfdoctor
from tests.location.support import HERE
from tests.location.test_drf import FIXED as DRF_FIXED
from tests.location.test_drf import SLOW as DRF_SLOW
from tests.location.test_flask_sqlalchemy import FIXED as FLASK_FIXED
from tests.location.test_flask_sqlalchemy import SLOW as FLASK_SLOW

PROBE = HERE / "path_cache_probe.py"


def _probe(
    site: Path, paths: list[str], tmp_path: Path, env: dict[str, str] | None = None
) -> dict[str, Any]:
    tmp_path.mkdir(exist_ok=True)
    out = tmp_path / "probe.json"
    result = run_perfdoctor(
        "run", "--traces", str(tmp_path / "traces.db"), "--",
        sys.executable, str(PROBE), str(out), str(site), *paths,
        cwd=site, env=None if env is None else {**os.environ, **env},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    stats: dict[str, Any] = json.loads(out.read_text())
    return stats


@pytest.mark.parametrize(
    ("site", "paths"),
    [
        pytest.param(HERE / "drf_site", DRF_SLOW + DRF_FIXED, id="django-drf"),
        pytest.param(HERE / "flask_site", FLASK_SLOW + FLASK_FIXED, id="flask-sqlalchemy"),
        # Sync endpoints in a worker thread, async ones on the event loop.
        pytest.param(HERE / "fastapi_site", ["/books", "/async-books"] * 2, id="fastapi"),
    ],
)
def test_remembered_walks_answer_as_the_full_walk(
    site: Path, paths: list[str], tmp_path: Path
) -> None:
    # Twice over: the second round's operations meet the paths the first learnt.
    stats = _probe(site, paths + paths, tmp_path)
    assert stats["operations"] > 40
    assert stats["mismatches"] == []
    # Most operations were answered from a remembered path (serializer fields and
    # template lines are walked every time: their trigger depends on the frame).
    assert stats["walked"] < stats["operations"] * 0.8, stats


def test_a_page_of_many_query_lines_is_walked_once(tmp_path: Path) -> None:
    # Django issues every query from one frame: twelve lines are twelve paths of
    # one site, and a short list of the newest forgot the oldest before the next
    # request (a real app's dashboard walked 10 of its 13 queries every time).
    once = _probe(HERE / "drf_site", ["/dashboard/"], tmp_path / "once")
    thrice = _probe(HERE / "drf_site", ["/dashboard/"] * 3, tmp_path / "thrice")
    assert thrice["operations"] >= once["operations"] + 2 * 12
    assert thrice["mismatches"] == []
    # The second and third requests walk nothing.
    assert thrice["walked"] == once["walked"], (once, thrice)


def test_a_frameworks_own_queries_at_many_depths_are_walked_once(tmp_path: Path) -> None:
    # A CMS routes and renders a page in its own code (Wagtail's serve()): a page's
    # queries have no user frame before the trace's anchor, each at its own
    # distance from it. Eight such paths were kept per site, so a page of more
    # walked most of its queries again on every request (Wagtail's bakery demo:
    # 13 of a page's queries, at 13 distances).
    once = _probe(HERE / "drf_site", ["/nested-page/"], tmp_path / "once")
    thrice = _probe(HERE / "drf_site", ["/nested-page/"] * 3, tmp_path / "thrice")
    assert once["walked"] >= 12
    assert thrice["operations"] >= once["operations"] + 2 * 12
    assert thrice["mismatches"] == []
    assert thrice["walked"] == once["walked"], (once, thrice)
    # And each is found at the first anchor distance tried: a page's queries come
    # in the same order every request. Moving the one found to the front looked up
    # about half of the page's 24 distances for every query: 22 frames a query in
    # all, against about 10 now (the issuing frame, the site's five user
    # distances, the anchor's, the template line's).
    later = thrice["operations"] - once["operations"]
    assert thrice["frames"] - once["frames"] <= 12 * later, (once, thrice)


def test_a_pages_framework_queries_are_answered_by_the_first_try(tmp_path: Path) -> None:
    # One Django frame issues every query of a page: the dashboard's from user
    # lines, the nested page's from Django's own frames at two dozen distances
    # from the anchor, in the same order every request. The first try held only
    # the path answered last, and never one without user frames at a site that has
    # some: every query of the nested page went past it, about 6 us each on
    # Wagtail's bakery demo (85 of a page's 87 operations).
    pages = ["/nested-page/", "/dashboard/"]
    # The order of the framework's paths is learnt by the second request.
    twice = _probe(HERE / "drf_site", pages * 2, tmp_path / "twice")
    thrice = _probe(HERE / "drf_site", pages * 3, tmp_path / "thrice")
    assert thrice["mismatches"] == []
    nested = thrice["operations"] - twice["operations"] - 12  # the dashboard's 12
    assert nested >= 24
    # The paths expected next are held for the first try, ahead of the one answered
    # last. (The dashboard's twelve user lines are looked up by their first user
    # frame, as before.)
    assert thrice["searched"] - twice["searched"] <= 12 + nested * 0.25, (twice, thrice)


@pytest.mark.parametrize("pure_python", ["0", "1"], ids=["compiled", "python"])
def test_a_template_node_inside_another_is_its_own_line(tmp_path: Path, pure_python: str) -> None:
    # Every Django template node renders through one function. An {% if %}'s own
    # query was learnt with that node's frame at some distance; the query of an
    # {% if %} inside it, one line down, has the outer node's frame at that very
    # distance and the trace's anchor where it was, so the remembered path matched
    # and the outer line was reported (Wagtail's bakery demo: 38 of 1,392 queries
    # on five pages, one of them in another template file).
    stats = _probe(
        HERE / "drf_site", ["/nested-if-page/"] * 3, tmp_path,
        env={"PERFDOCTOR_PURE_PYTHON": pure_python},
    )
    assert stats["operations"] >= 6
    assert stats["mismatches"] == []
