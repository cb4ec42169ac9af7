"""The call site: which frames are the user's, and their lines."""

from __future__ import annotations

import json
import sys
from types import FrameType

from perfdoctor import callsite


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
