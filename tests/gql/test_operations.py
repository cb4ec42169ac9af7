"""How an operation names its trace: type and name, or a hash that holds no value."""

from __future__ import annotations

from graphql import parse

from perfdoctor.capture.graphql import operation_label, trace_name


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
