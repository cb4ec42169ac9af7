"""How an operation names its trace: type and name, or a hash that holds no value."""

from __future__ import annotations

import sys
from pathlib import Path

from graphql import parse

from perfdoctor import store
from perfdoctor.capture.graphql import operation_label, trace_name
from tests.conftest import run_perfdoctor
from tests.gql.support import HERE, app_env


def _label(document: str) -> str:
    return operation_label(parse(document).definitions[0])


def test_a_named_operation_is_its_type_and_name() -> None:
    assert _label("query PostList { posts { title } }") == "query PostList"
    assert _label("mutation AddPost($t: String!) { addPost(title: $t) { id } }") == (
        "mutation AddPost"
    )


def test_an_anonymous_operation_is_a_hash_of_its_shape() -> None:
    one = _label('{ post(id: 1, slug: "secret-draft") { title } }')
    assert one.startswith("query ") and len(one.split()[1]) == 8
    # Literals, layout and comments do not change it; the fields asked for do.
    assert _label('{\n  post(id: 99, slug: "other")  # a comment\n  { title }\n}') == one
    assert _label('{ post(id: 1, slug: "x") { title body } }') != one
    assert "secret" not in one


def test_the_request_name_is_followed_by_the_operation() -> None:
    attrs = {"graphql": {"operations": ["query PostList"], "count": 1}}
    assert trace_name("POST /graphql", attrs) == "POST /graphql query PostList"
    batch = {"graphql": {"operations": ["query PostList", "query Titles"], "count": 2}}
    assert trace_name("POST /graphql", batch) == "POST /graphql query PostList (+1 batched)"
    assert trace_name("GET /health", {}) == "GET /health"


def test_operations_outside_a_request_leave_the_trace_its_name(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    result = run_perfdoctor(
        "run", "--traces", str(traces), "--", sys.executable, "script.py",
        cwd=HERE / "ariadne_app", env=app_env(tmp_path / "blog.db"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [trace] = store.load_traces(traces)
    assert trace.name == "script.py"
    about = trace.attrs["graphql"]
    assert about["count"] == 2 and about["operations"][0] == "query PostList"
    assert about["operations"][1].startswith("query ") and about["library"] == "ariadne"
