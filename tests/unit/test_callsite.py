"""The call site: which frames are the user's, and their lines."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

from perfdoctor import callsite, triggers


@pytest.fixture(autouse=True, params=["compiled", "python"])
def implementation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here with each call-site first try: the compiled one (where it
    was built) and the Python one, which must give the same answers."""
    if request.param == "python":
        monkeypatch.setattr(callsite, "capture_caller", callsite.python_capture_caller)
    elif callsite.capture_caller is callsite.python_capture_caller:
        if sys.version_info >= (3, 11) and os.environ.get("CI"):
            pytest.fail("perfdoctor._speedups was not built: pip install -e . compiles it")
        pytest.skip("perfdoctor._speedups is not built here")
    return str(request.param)


def _frames_with_lines(frame: FrameType | None) -> list[tuple[int, int]]:
    """(line_of, f_lineno) for every frame from ``frame`` outwards."""
    pairs = []
    while frame is not None:
        pairs.append((callsite.line_of(frame.f_code, frame.f_lasti), frame.f_lineno))
        frame = frame.f_back
    return pairs


def test_line_of_agrees_with_the_interpreter_on_every_frame() -> None:
    seen: list[tuple[int, int]] = []

    def hook(obj: object) -> str:
        # Called from inside json's encoder: standard library frames, then ours.
        seen.extend(_frames_with_lines(sys._getframe(1)))
        return "x"

    def long_function(n: int) -> str:
        total = 0
        for i in range(n):
            total += i
        text = json.dumps(
            {"a": object()},
            default=hook,
        )
        if total > 10:
            return (
                text
                + json.dumps([object()], default=hook)
            )
        return text

    long_function(5)
    long_function(50)
    seen.extend(_frames_with_lines(sys._getframe()))
    assert len(seen) > 20
    assert [line for line, _ in seen] == [expected for _, expected in seen]


def _outer() -> tuple[list[callsite.RawFrame], str | None]:
    return _inner()


def _inner() -> tuple[list[callsite.RawFrame], str | None]:
    frames, framework, trigger = callsite.capture(sys._getframe(), 2)
    assert trigger is None
    return frames, framework


def test_capture_keeps_the_innermost_user_frames_up_to_the_depth() -> None:
    frames, framework = _outer()
    names = [code.co_name for code, _ in frames]
    assert names == ["_inner", "_outer"]
    assert framework is None
    code, offset = frames[1]
    assert callsite.line_of(code, offset) == _outer.__code__.co_firstlineno + 1


def test_standard_library_and_perfdoctor_files_are_not_user_code() -> None:
    assert callsite.classify(json.__file__) == callsite.SKIP
    assert callsite.classify(callsite.__file__) == callsite.SKIP
    assert callsite.classify(__file__) == callsite.USER


def _nested(levels: int, leaf: Callable[[], object]) -> object:
    return leaf() if levels == 0 else _nested(levels - 1, leaf)


def _same_site(a: Any, b: Any) -> bool:
    """Equal but for the innermost frame's instruction (the two calls differ there)."""
    (frames_a, *rest_a), (frames_b, *rest_b) = a, b
    return (
        [code for code, _ in frames_a] == [code for code, _ in frames_b]
        and frames_a[1:] == frames_b[1:]
        and rest_a == rest_b
    )


def test_an_anchor_gives_the_same_call_site_as_the_full_walk() -> None:
    anchor = callsite.Anchor(sys._getframe(0))
    walks: list[tuple[object, object]] = []

    def query() -> None:
        here = sys._getframe(0)
        full = callsite.capture(here, 5)
        walks.append((callsite.capture(here, 5, anchor), full))

    # Several queries at different depths and lines under the anchor: the frames
    # outside it are walked once, the answer does not change.
    _nested(2, query)
    _nested(6, query)
    query()
    assert len(walks) == 3
    for anchored, full in walks:
        assert _same_site(anchored, full)
    assert anchor.outer() is not None
    anchor.release()
    assert anchor.frame is None and anchor.outer() is None


def test_an_anchor_in_a_generator_is_not_trusted() -> None:
    def gen() -> Iterator[object]:
        anchor = callsite.Anchor(sys._getframe(0))
        here = sys._getframe(0)
        yield callsite.capture(here, 5, anchor), callsite.capture(here, 5), anchor.outer()

    anchored, full, outer = next(gen())
    assert _same_site(anchored, full)
    assert outer is None


def _through_json(anchor: callsite.Anchor, twice: bool) -> list[tuple[Any, Any]]:
    """Call sites taken from inside json's encoder (library frames), by the hot
    path and by the full walk, from one line or two."""
    answers: list[tuple[Any, Any]] = []

    def hook(obj: object) -> str:
        # skip=1: the path starts at hook's caller, a frame of json's encoder.
        answers.append((callsite.capture_caller(1, 5, anchor), callsite.capture(sys._getframe(1), 5)))
        return "x"

    json.dumps([object()], default=hook)
    if twice:
        json.dumps([object()], default=hook)
    return answers


def test_a_remembered_path_answers_as_the_full_walk_and_tells_lines_apart(
    monkeypatch: Any,
) -> None:
    anchor = callsite.Anchor(sys._getframe(0))
    walks = []
    walk = callsite.capture
    monkeypatch.setattr(callsite, "capture", lambda *a: walks.append(1) or walk(*a))
    answers = []
    for _ in range(3):
        answers += _through_json(anchor, twice=False)
        answers += _through_json(anchor, twice=True)
        answers += _nested(3, lambda: _through_json(anchor, twice=False))  # type: ignore[operator]
    hot = [a for a, _ in answers]
    assert hot == [full for _, full in answers]
    # Its two lines, from two lines here and through _nested: four call sites,
    # each its own answer though the path starts at the same frame of json's.
    assert len({tuple(frames) for frames, _, _ in hot}) == 4
    assert {framework for _, framework, _ in hot} == {None}
    # The first round walked each path (once with the hot path, once for the
    # comparison); later rounds walked for the comparison only.
    assert len(walks) < 2 * len(answers)
    anchor.release()


def test_a_path_to_the_bottom_of_a_worker_threads_stack_is_remembered(monkeypatch: Any) -> None:
    # A sync endpoint run in a thread pool (FastAPI, Starlette): the trace's anchor
    # is on another thread's stack, and the walk ends at this thread's bottom.
    walks = []
    walk = callsite.capture
    monkeypatch.setattr(callsite, "capture", lambda *a: walks.append(1) or walk(*a))
    answers: list[tuple[Any, Any]] = []
    anchor = callsite.Anchor(sys._getframe(0))  # this thread's, never met there

    def work() -> None:
        for _ in range(5):
            answers.extend(_through_json(anchor, twice=True))

    def in_thread() -> None:
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()

    in_thread()
    in_thread()
    assert len(answers) == 20
    assert [hot for hot, _ in answers] == [full for _, full in answers]
    assert len(walks) < 2 * len(answers)
    # Remembered as ending at the bottom of the stack: -(steps to it) - 1.
    assert any(
        path[1] < -1
        for site in callsite._paths.values()
        for known in [site.bare, *(p for table in site.by_first.values() for p in table.values())]
        for _, path in known
    )
    anchor.release()


def test_a_drf_fields_names_are_read_once_per_trace_and_let_go_at_its_end() -> None:
    class Serializer:
        child = None

    class Field:
        def __init__(self, parent: Serializer, name: str) -> None:
            self.parent, self.field_name, self.source = parent, name, name

        def running(self) -> Any:  # the frame of a field's get_attribute
            return sys._getframe(0)

    parent = Serializer()
    author, editor = Field(parent, "author"), Field(parent, "editor")
    anchor = callsite.Anchor(sys._getframe(0))
    first = triggers.extract(triggers.DRF, author.running(), 0, anchor.names)
    assert first == (triggers.DRF, Serializer, "author", None, 0)
    # Each row's query: the same names, not read again.
    assert triggers.extract(triggers.DRF, author.running(), 0, anchor.names) is first
    # Another path to the same field (a user frame inside it), another field.
    assert triggers.extract(triggers.DRF, author.running(), 1, anchor.names) == (
        triggers.DRF, Serializer, "author", None, 1
    )
    assert triggers.extract(triggers.DRF, editor.running(), 0, anchor.names) == (
        triggers.DRF, Serializer, "editor", None, 0
    )
    assert triggers.extract(triggers.DRF, editor.running(), 0) == (
        triggers.DRF, Serializer, "editor", None, 0
    )
    # The trace's end lets the fields go.
    anchor.release()
    assert anchor.names == {}


def test_a_template_nodes_names_are_read_once_per_trace() -> None:
    from django.template import Engine

    template = Engine().from_string("<li>\n{{ post.author.name }}</li>")
    node = next(n for n in template.nodelist if type(n).__name__ == "VariableNode")

    def render(self: Any) -> FrameType:  # the frame of the node's render
        return sys._getframe(0)

    anchor = callsite.Anchor(sys._getframe(0))
    first = triggers.extract(triggers.DJANGO_TEMPLATE, render(node), 0, anchor.names)
    assert first == (
        triggers.DJANGO_TEMPLATE, None, "<unknown source>", 2, "post.author.name", 0
    )
    # Each row's query renders the same node: its names, not read again.
    assert triggers.extract(triggers.DJANGO_TEMPLATE, render(node), 0, anchor.names) is first
    # With a user frame inside it (a template tag's own code), another answer.
    assert triggers.extract(triggers.DJANGO_TEMPLATE, render(node), 1, anchor.names) == (
        *first[:-1], 1
    )
    # Without a trace's cache, the same names.
    assert triggers.extract(triggers.DJANGO_TEMPLATE, render(node), 0) == first
    anchor.release()
    assert anchor.names == {}


def test_the_path_found_last_answers_only_for_its_own_trace_and_depth() -> None:
    # Each query first tries the path its site answered last, with that answer
    # joined to the frames outside its trace: a new trace from another caller, or
    # another depth, must not get it.
    def asked(depth: int, anchor: callsite.Anchor) -> Any:
        # For its caller, as record_db asks (a frame calling a C function shows
        # two instructions on 3.11, before and after the call is specialised).
        return callsite.capture_caller(1, depth, anchor)

    def query(depth: int, anchor: callsite.Anchor) -> tuple[Any, Any]:
        return asked(depth, anchor), callsite.capture(sys._getframe(0), depth)

    def opened_here(depth: int) -> list[tuple[Any, Any]]:
        anchor = callsite.Anchor(sys._getframe(0))
        try:
            return [query(depth, anchor) for _ in range(3)]
        finally:
            anchor.release()

    def opened_there(depth: int) -> list[tuple[Any, Any]]:
        return _nested(1, lambda: opened_here(depth))  # type: ignore[return-value]

    here, there = opened_here(5), opened_there(5)
    shallow, again = opened_there(2), opened_here(5)
    for answers in (here, there, shallow, again):
        assert all(_same_site(hot, full) for hot, full in answers)
        # Within a trace, one answer (the path found last, from the second query on).
        assert len({tuple(frames) for (frames, _, _), _ in answers}) == 1
    # The frames outside each trace's anchor are its own.
    assert here[0][0][0][2:] != there[0][0][0][2:]
    assert [len(frames) for (frames, _, _), _ in shallow] == [2, 2, 2]


@contextlib.contextmanager
def _scope(levels: int) -> Iterator[callsite.Anchor]:
    """A job runner's own context manager around a trace (``with scope(name):``),
    nested ``levels`` deep."""
    if levels:
        with _scope(levels - 1) as anchor:
            yield anchor
        return
    yield callsite.Anchor(callsite.anchor_frame(sys._getframe(0)))


def _asked_twice(anchor: callsite.Anchor) -> list[tuple[object, object]]:
    walks: list[tuple[object, object]] = []

    def query() -> None:
        walks.append((callsite.capture_caller(0, 5, anchor), callsite.capture(sys._getframe(0), 5)))

    _nested(3, query)
    _nested(3, query)
    return walks


def test_a_trace_opened_in_the_users_contextmanager_anchors_at_the_with() -> None:
    for levels in (0, 2):
        with _scope(levels) as anchor:
            # The generator is suspended at its yield: the frame holding the
            # ``with`` runs the block, and is the anchor.
            assert anchor.frame is sys._getframe(0)
            walks = _asked_twice(anchor)
        assert anchor.outer() is not None
        assert len(walks) == 2
        for anchored, full in walks:
            assert _same_site(anchored, full)


def test_a_generator_not_run_by_with_stays_its_own_anchor() -> None:
    def gen() -> Iterator[FrameType]:
        yield callsite.anchor_frame(sys._getframe(0))

    frame = next(gen())
    assert frame.f_code is gen.__code__
    assert callsite.Anchor(frame).outer() is None


class _Leaf:
    """A value whose copy asks for its call site, as a query asks for one."""

    answers: list[tuple[Any, Any]] = []
    anchor: callsite.Anchor | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> _Leaf:
        if _Leaf.anchor is None:
            # The list copy around every row (copy._deepcopy_list), three frames out
            # from the copy that asks: the trace's anchor, a library frame.
            _Leaf.anchor = callsite.Anchor(sys._getframe(4))
        _Leaf.answers.append(
            (callsite.capture_caller(1, 5, _Leaf.anchor), callsite.capture(sys._getframe(1), 5))
        )
        return self


class _Holder:
    """A value whose own copy copies a leaf: a user frame where a list's copy
    frame stands for a bare row, at the same distance from the anchor."""

    def __init__(self) -> None:
        self.leaf = _Leaf()

    def __deepcopy__(self, memo: dict[int, Any]) -> _Holder:
        copy.deepcopy(self.leaf, memo)
        return self


def test_a_path_without_user_frames_is_not_taken_where_a_user_frame_stands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # copy.deepcopy asks each row's leaf from one frame (the site): a row that is a
    # list reaches it through the library only (no user frame before the anchor),
    # a _Holder row through its own __deepcopy__, one frame in, the anchor at the
    # same distance. Held for the first try, the bare path must not answer the
    # other row: _search looks the site's first user frames up before a bare path.
    _Leaf.answers, _Leaf.anchor = [], None
    searched = []
    search = callsite._search

    def counted(first: Any, key: Any, site: Any, base: int, *rest: Any) -> Any:
        searched.append(len(_Leaf.answers))
        return search(first, key, site, base + 1, *rest)  # a frame deeper

    monkeypatch.setattr(callsite, "_search", counted)
    rows: list[object] = [[_Leaf()] if i % 2 else _Holder() for i in range(12)]
    copy.deepcopy(rows)
    assert _Leaf.anchor is not None
    _Leaf.anchor.release()
    assert len(_Leaf.answers) == 12
    for hot, full in _Leaf.answers:
        assert [code.co_name for code, _ in hot[0]] == [code.co_name for code, _ in full[0]]
    users = [len(hot[0]) for hot, _ in _Leaf.answers]
    assert users[0] > users[1]  # the holder's row has one user frame more
    # Both paths are held, each taken only where it is: after the first four rows
    # (each path walked once, then looked up once), the first try answers them all.
    assert [row for row in searched if row >= 4] == [], searched
