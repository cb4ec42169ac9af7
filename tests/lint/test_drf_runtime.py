"""Lint and the runtime on one DRF list endpoint (tests/apps/drf_list): every N+1 the
report measures carries the PD122 finding at the serializer field that loads it, and
both name the relation and its fix the same way."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from perfdoctor.lint import lint_paths
from tests.capture.apps_support import app_env
from tests.conftest import run_perfdoctor

APP = Path(__file__).parents[1] / "apps" / "drf_list"
SERIALIZERS = APP / "shop" / "serializers.py"


def _marked(tag: str) -> int:
    lines = SERIALIZERS.read_text().splitlines()
    return next(n for n, text in enumerate(lines, 1) if f"# n+1: {tag}" in text)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    traces = tmp_path_factory.mktemp("drf") / "traces.db"
    ran = run_perfdoctor(
        "run", "--traces", str(traces), "--", sys.executable, str(APP / "run.py"), env=app_env()
    )
    assert ran.returncode == 0, ran.stderr
    shown = run_perfdoctor(
        "report", "--traces", str(traces), "--format", "json", "--lint", str(APP)
    )
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)  # type: ignore[no-any-return]


def test_each_measured_n_plus_one_carries_the_lint_finding(report: dict[str, Any]) -> None:
    found = {
        f["evidence"]["relation"]: f["evidence"].get("lint", [])
        for f in report["findings"]
        if f["id"] == "n-plus-one-query"
    }
    assert set(found) == {"Product.maker", "Product.labels", "Product.review_set"}
    expected = {
        "Product.maker": _marked("maker"),
        "Product.labels": _marked("labels"),
        "Product.review_set": _marked("reviews"),
    }
    for relation, static in found.items():
        assert [(s["code"], s["line"]) for s in static] == [("PD122", expected[relation])]


def test_lint_fix_names_what_the_runtime_fix_names(report: dict[str, Any]) -> None:
    messages = {f.relation: f.message for f in lint_paths([APP]).findings}
    for finding in report["findings"]:
        if finding["id"] != "n-plus-one-query":
            continue
        fix = finding["evidence"]["orm_fix"]
        [call] = fix["calls"]
        message = messages[finding["evidence"]["relation"]]
        if call["method"] == "annotate":
            [(name, expr)] = call["kwargs"].items()
            assert f'.annotate({name}=Count("{expr["Count"]}"))' in message
        else:
            [arg] = call["args"]
            assert f'.{call["method"]}("{arg}")' in message
