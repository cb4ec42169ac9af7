"""The demo's serializer area: a marshmallow schema runs the N+1 loop, the finding
points at the select() the view handed it and names the field; the /fixed twin
is clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfdoctor.analysis.analyze import Analysis
from perfdoctor.demo import area_serializers
from tests.demo.support import SharedDemo, line_in, one

AREA_PY = Path(area_serializers.__file__).resolve()


@pytest.fixture(scope="module")
def analysis(shared_demo: SharedDemo) -> Analysis:
    return shared_demo.analysis()


def test_the_schema_loop_points_at_the_select_and_names_the_field(analysis: Analysis) -> None:
    finding = one(analysis, "n-plus-one-query", "GET /serializers/articles")
    assert finding.location is not None
    assert Path(finding.location.path).resolve() == AREA_PY
    assert finding.location.line == line_in(AREA_PY, "# n-plus-one-query:")
    field = line_in(AREA_PY, "author = fields.Nested(AuthorSchema)")
    assert finding.evidence["loaded_by"] == f"ArticleSchema.author (area_serializers.py:{field})"
    assert finding.evidence["trigger"]["kind"] == "marshmallow-schema"
    assert "joinedload(Article.author)" in finding.fix


def test_the_fixed_twin_has_no_finding(analysis: Analysis) -> None:
    assert [f for f in analysis.findings if f.endpoint == "GET /serializers/articles/fixed"] == []
