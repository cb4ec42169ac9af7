"""A response body sent after the app returned stays part of its request's trace.

A WSGI server iterates the body after the app's call has returned, and Django's
handlers iterate a ``StreamingHttpResponse`` after ``get_response``: by then the
request's context variable is reset, so a generator that queries per row would
record into no trace, or into the server's own.  Each step of such a body (every
``next()``, and its ``close()``) runs with the request's trace current again, and
the trace ends when the body is closed (see :func:`context.hand_off` for a body
still open at exit).  ASGI needs none of this: the app's call lasts until the
last body message is sent, and the tasks Starlette streams from copy the
context.  Nothing here may raise into the host application, and the app's own
exceptions pass through unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import Any, TypeVar

from perfdoctor.capture import context
from perfdoctor.capture.response import BodyMeter

T = TypeVar("T")
_current = context._current


def _restore(token: Any) -> None:
    try:
        _current.reset(token)
    except (ValueError, RuntimeError):  # pragma: no cover - set and reset in one frame
        _current.set(None)


def within(trace: context.ActiveTrace, step: Callable[[], T]) -> T:
    """``step()`` with ``trace`` current (a body's ``close()``, which may query)."""
    token = _current.set(trace)
    try:
        return step()
    finally:
        _restore(token)


def sent(trace: context.ActiveTrace, meter: BodyMeter | None) -> None:
    """The body is exhausted: what the client waited for ends here."""
    try:
        now = context.perf_counter()
        if meter is not None:
            meter.sent_at = now
        trace.attrs["response_ms"] = (now - trace.start) * 1000.0
    except Exception:  # pragma: no cover - defensive
        pass


def chunks(
    trace: context.ActiveTrace, body: Iterable[Any], meter: BodyMeter | None = None
) -> Iterator[Any]:
    """``body``'s chunks, each pulled with ``trace`` current; ``meter`` counts them.

    Current only while the body's own code runs: the server's work between two
    chunks is not the request's, and a body the server drops unfinished leaves
    nothing behind in its thread.
    """
    set_trace = _current.set
    token = set_trace(trace)
    try:
        # iter() may run the app's code too (a class whose __iter__ queries).
        iterator = iter(body)
    finally:
        _restore(token)
    feed = meter.feed if meter is not None else None
    while True:
        token = set_trace(trace)
        try:
            chunk = next(iterator)
        except StopIteration:
            break
        finally:
            _restore(token)
        if feed is not None:
            try:
                feed(chunk)
            except Exception:
                pass
        yield chunk
    sent(trace, meter)


class AsyncChunks:
    """:func:`chunks` for an async body (Django's async ``StreamingHttpResponse``)."""

    __slots__ = ("_body", "_chunks", "_meter", "_trace")

    def __init__(
        self, trace: context.ActiveTrace, body: AsyncIterable[Any], meter: BodyMeter | None = None
    ) -> None:
        self._trace = trace
        self._body = body
        self._chunks: AsyncIterator[Any] | None = None
        self._meter = meter

    def __aiter__(self) -> AsyncChunks:
        return self

    async def __anext__(self) -> Any:
        # A coroutine runs in its task's context: set and reset around the await
        # touch this task only.
        token = _current.set(self._trace)
        try:
            chunks = self._chunks
            if chunks is None:
                chunks = self._chunks = self._body.__aiter__()
            chunk = await chunks.__anext__()
        except StopAsyncIteration:
            sent(self._trace, self._meter)
            raise
        finally:
            _restore(token)
        if self._meter is not None:
            try:
                self._meter.feed(chunk)
            except Exception:
                pass
        return chunk
