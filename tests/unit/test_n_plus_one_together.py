"""The combined eager load of a loop's N+1 findings, on findings as the detector
makes them (the site tests run real apps: tests/location/test_together.py)."""

from __future__ import annotations

from typing import Any

from perfdoctor.detectors._n_plus_one_together import combine
from perfdoctor.model import Finding, Location

PARENT = 'SELECT "wagtailcore_page"."id" FROM "wagtailcore_page"'


def _call(method: str, *args: str, **kwargs: Any) -> dict[str, Any]:
    return {"method": method, "args": list(args), "kwargs": kwargs}


def _finding(relation: str, line: int, machine: dict[str, Any]) -> Finding:
    return Finding(
        id="n-plus-one-query",
        severity="error",
        title="N+1",
        endpoint="GET /",
        location=Location("home/views.py", line, "home"),
        evidence={"parent_statement": PARENT, "orm_fix": machine, "relation": relation},
        fix=f"Add the eager load of {relation}.",
    )


def test_a_specific_loop_gets_both_of_wagtails_forms_for_all_of_its_relations() -> None:
    def specific(*args: str) -> dict[str, Any]:
        return {
            "framework": "django",
            "kind": "eager",
            "on": "blog.BlogPage",
            "specific": True,
            "calls": [_call("select_related", *args, for_specific_subqueries=True)],
            "without": [_call("select_related", *args)],
        }

    image = _finding("BlogPage.image", 7, specific("image"))
    author = _finding("BlogPage.author", 9, specific("author"))
    combine([image, author])
    for finding in (image, author):
        together = finding.evidence["orm_fix_together"]
        assert together["calls"] == [
            _call("select_related", "image", "author", for_specific_subqueries=True)
        ]
        # The calls for Wagtail before 6.3 name both relations too.
        assert together["without"] == [_call("select_related", "image", "author")]
    assert image.fix.endswith(
        "also reads BlogPage.author at home/views.py:9 one row at a time: all together, "
        '.select_related("image", "author", for_specific_subqueries=True).'
    )


def test_a_path_that_loads_another_on_the_way_is_named_once() -> None:
    def eager(*args: str) -> dict[str, Any]:
        return {"framework": "django", "kind": "eager", "on": "blog.Post",
                "calls": [_call("select_related", *args)]}

    owner = _finding("Post.owner", 3, eager("owner"))
    profile = _finding("User.profile", 3, eager("owner__profile"))
    combine([owner, profile])
    assert owner.evidence["orm_fix_together"]["calls"] == [
        _call("select_related", "owner__profile")
    ]
    # Its own fix already loads the owners: nothing added to it.
    assert "orm_fix_together" not in profile.evidence
    assert profile.fix == "Add the eager load of User.profile."


def test_loops_over_other_queries_or_other_endpoints_are_not_combined() -> None:
    def eager(arg: str) -> dict[str, Any]:
        return {"framework": "django", "kind": "eager", "on": "blog.Post",
                "calls": [_call("select_related", arg)]}

    first = _finding("Post.owner", 3, eager("owner"))
    other_loop = _finding("Post.topic", 5, eager("topic"))
    other_loop.evidence["parent_statement"] = "SELECT other"
    elsewhere = _finding("Post.tag", 6, eager("tag"))
    elsewhere.endpoint = "GET /other"
    combine([first, other_loop, elsewhere])
    for finding in (first, other_loop, elsewhere):
        assert "orm_fix_together" not in finding.evidence
