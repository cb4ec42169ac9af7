"""blocking-in-async: a synchronous driver call made on the event loop's thread.

Capture marks such spans ``blocks_event_loop`` (a synchronous database, HTTP or
cache call made while an asyncio loop runs in the thread): for its whole
duration the loop serves no other request.  That loop is an ASGI server's, or, in
a synchronous app, the one shared loop its views hand coroutines to from their
threads (``asyncio.run_coroutine_threadsafe``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from perfdoctor.analysis.shapes import screened
from perfdoctor.detectors import register
from perfdoctor.detectors.base import PerTraceDetector, finding_fingerprint
from perfdoctor.model import Finding, Location, Severity, Span, Trace
from perfdoctor.settings import Settings

# What the async replacement is, per kind of span and library.
ASYNC_DRIVERS = {
    "db": "an async driver (asyncpg, psycopg's AsyncConnection, aiosqlite; with "
    "SQLAlchemy, create_async_engine and AsyncSession)",
    "http": "an async client (httpx.AsyncClient, aiohttp)",
    "cache": "an async client (redis.asyncio)",
}


def remedy(kinds: list[str], frameworks: set[str | None], shared_loop: bool = False) -> str:
    drivers = "; ".join(ASYNC_DRIVERS.get(kind, "an async library") for kind in kinds)
    if shared_loop:
        return (
            "Do not call blocking code in a coroutine on the app's shared event loop (the "
            "one its views hand work to with asyncio.run_coroutine_threadsafe): every "
            f"request waiting on that loop waits for the call too. Await {drivers} instead, "
            "or run the call in a worker thread from the coroutine: await "
            "asyncio.to_thread(fn, ...), several at once with asyncio.gather."
        )
    if "django" in frameworks:
        return (
            f"Do not call blocking code from an async view: use {drivers}, the ORM's async "
            "methods (await qs.aget(), qs.acount(), async for obj in qs), or wrap the call "
            "in asgiref.sync.sync_to_async. Or make the view a plain def view."
        )
    return (
        f"Do not call blocking code from an async endpoint: use {drivers}; or run the "
        "call in a thread (await run_in_threadpool(fn, ...) from starlette.concurrency, or "
        "asyncio.to_thread); or declare the FastAPI endpoint with def instead of async "
        "def, so FastAPI runs it in its threadpool."
    )


def _blocks(span: Span) -> bool:
    return bool(span.attrs.get("blocks_event_loop"))


@register
class BlockingInAsync(PerTraceDetector):
    id = "blocking-in-async"
    description = "synchronous database/HTTP/cache calls that blocked the event loop"

    def visit(self, trace: Trace, settings: Settings) -> Iterable[Finding]:
        # Flask runs an async view on an event loop of its own for that one request
        # (asgiref), so a blocking call there holds up no other request.
        if trace.attrs.get("async") and trace.attrs.get("framework") == "flask":
            return
        # A sync request whose spans blocked a running loop handed a coroutine to a
        # loop running in another thread (asyncio.run_coroutine_threadsafe): the
        # app's shared loop, which every request waiting on it shares.  (A sync view
        # that starts a loop of its own with asyncio.run is judged too: the spans do
        # not say whose loop it was.)
        shared_loop = not trace.attrs.get("async")
        # A shape's runs share their attrs: most requests block nothing, seen per shape.
        if not screened(trace, self.id, _blocks):
            return
        blocking = [s for s in trace.spans if s.attrs.get("blocks_event_loop")]
        blocked_ms = sum(s.duration_ms for s in blocking)
        if not blocking or blocked_ms < settings.blocking_in_async_min_ms:
            return
        by_site: dict[Location | None, list[Span]] = defaultdict(list)
        for span in blocking:
            by_site[span.location].append(span)
        location, worst = max(by_site.items(), key=lambda item: sum(s.duration_ms for s in item[1]))
        # db.connect is a db call too, as far as the fix goes.
        kinds = sorted({s.kind.split(".")[0] for s in blocking})
        systems = sorted({s.system for s in blocking if s.system})
        severity: Severity = (
            "error" if blocked_ms >= settings.blocking_in_async_error_ms else "warning"
        )
        yield Finding(
            id=self.id,
            severity=severity,
            title=(
                f"Blocking call in async code: {len(blocking)} synchronous "
                f"{'/'.join(kinds)} calls held the event loop for {blocked_ms:.0f} ms"
            ),
            endpoint=trace.name,
            location=location,
            evidence={
                "calls": len(blocking),
                "blocked_ms": round(blocked_ms, 3),
                "total_ms": round(blocked_ms, 3),
                "site_calls": len(worst),
                "site_ms": round(sum(s.duration_ms for s in worst), 3),
                "kinds": kinds,
                "systems": systems,
                "statement": next((s.statement for s in worst if s.statement), None),
            },
            fix=remedy(kinds, {s.framework for s in blocking}, shared_loop),
            fingerprint=finding_fingerprint(self.id, trace.name, location),
        )
