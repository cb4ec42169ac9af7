"""A WSGI body dropped unclosed is ended by its finalizer without setting a context
variable: a finalizer can run inside a garbage collection, and on CPython before
3.12 a context variable set there can corrupt the context of the code the
collection interrupted (seen as segfaults in Flask's next request)."""

from __future__ import annotations

import gc
from pathlib import Path

from perfdoctor.capture import context, wsgi
from tests.inprocess import capturing


def test_a_dropped_body_is_closed_outside_the_trace_and_ends_it(tmp_path: Path) -> None:
    seen: list[object] = []

    class Body(list[bytes]):
        def close(self) -> None:
            seen.append(context._current.get())

    with capturing(tmp_path / "t.db"):
        trace, token = context.start("GET /items", "http")
        ended: list[bool] = []

        def finish() -> None:
            ended.append(True)
            context.finish(trace, None)

        context.hand_off(trace, token, finish)
        body = wsgi.ClosingBody(Body([b"ok"]), finish, trace)
        # In a cycle, as a body is when a collection finalizes it.
        body.cycle = body  # type: ignore[attr-defined]
        del body
        gc.collect()
        assert ended == [True]
        assert seen == [None]
        assert trace.finished is not None


def test_a_closed_body_closes_inside_its_trace(tmp_path: Path) -> None:
    seen: list[object] = []

    class Body(list[bytes]):
        def close(self) -> None:
            seen.append(context._current.get())

    with capturing(tmp_path / "t.db"):
        trace, token = context.start("GET /items", "http")
        context.hand_off(trace, token, lambda: context.finish(trace, None))
        body = wsgi.ClosingBody(Body([b"ok"]), lambda: context.finish(trace, None), trace)
        body.close()
        assert seen == [trace]
