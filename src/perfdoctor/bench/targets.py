"""How one request reaches the app: a WSGI or ASGI call in-process, or HTTP.

In-process calls run under perfdoctor's capture; each call notes the id of
the trace the app's request started (a context variable the capture's
``on_start`` hook fills), so each sample is matched to its queries.
"""

from __future__ import annotations

import asyncio
import contextvars
import http.client
import inspect
import io
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any, Optional
from urllib.parse import urlsplit

from perfdoctor.bench.spec import Endpoint
from perfdoctor.capture import context
from perfdoctor.errors import UsageError

# (status or None when the call failed, trace id or None)
Result = tuple[Optional[int], Optional[str]]

_slot: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "perfdoctor_bench_slot", default=None
)


def watch_traces() -> Callable[[], None]:
    """Note each started trace's id in the caller's slot; returns the undo."""
    previous = context.state.on_start

    def started(trace: context.ActiveTrace) -> None:
        if previous is not None:
            previous(trace)
        slot = _slot.get()
        if slot is not None:
            slot.append(trace.id)

    context.state.on_start = started

    def undo() -> None:
        context.state.on_start = previous

    return undo


def is_asgi(app: Any) -> bool:
    call = getattr(app, "__call__", None)  # noqa: B004 - the method itself is inspected
    return inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(call)


class WSGITarget:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.wrapped = False
        # The last exception the app raised, for a one-line error message.
        self.last_error = ""

    def wrap_if_untraced(self) -> None:
        """A bare WSGI callable starts no trace of its own: run it under the generic middleware."""
        if not self.wrapped:
            from perfdoctor.capture.wsgi import traced_call

            app = self.app
            self.app = lambda environ, start_response: traced_call(app, environ, start_response)
            self.wrapped = True

    def call(self, endpoint: Endpoint) -> Result:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": endpoint.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": endpoint.path,
            "QUERY_STRING": endpoint.query,
            "SERVER_NAME": "perfdoctor-bench",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "perfdoctor-bench",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_LENGTH": "0",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        status: list[int] = []

        def start_response(line: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            status[:] = [int(line.split(" ", 1)[0])]
            return lambda data: None

        slot: list[str] = []
        token = _slot.set(slot)
        try:
            body = self.app(environ, start_response)
            try:
                for _ in body:
                    pass
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            return None, slot[0] if slot else None
        finally:
            _slot.reset(token)
        return (status[0] if status else None), (slot[0] if slot else None)


class ASGITarget:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.wrapped = False
        # The last exception the app raised, for a one-line error message.
        self.last_error = ""
        self._lifespan: asyncio.Task[None] | None = None
        self._to_app: asyncio.Queue[dict[str, Any]] | None = None

    def wrap_if_untraced(self) -> None:
        if not self.wrapped:
            from perfdoctor.capture.asgi import TraceMiddleware

            self.app = TraceMiddleware(self.app)
            self.wrapped = True

    async def startup(self) -> None:
        """Run the app's lifespan startup, if it has one (FastAPI/Starlette do)."""
        to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        await to_app.put({"type": "lifespan.startup"})

        async def send(message: dict[str, Any]) -> None:
            await from_app.put(message)

        async def run() -> None:
            try:
                await self.app({"type": "lifespan", "asgi": {"version": "3.0"}}, to_app.get, send)
            except Exception:
                # An app without lifespan support may raise on the scope: it has none.
                await from_app.put({"type": "lifespan.unsupported"})

        self._lifespan = asyncio.ensure_future(run())
        self._to_app = to_app
        reply = await from_app.get()
        if reply["type"] == "lifespan.startup.failed":
            raise UsageError(f"the app's lifespan startup failed: {reply.get('message', '')}")
        if reply["type"] != "lifespan.startup.complete":
            self._lifespan = None

    async def shutdown(self) -> None:
        if self._lifespan is not None and self._to_app is not None:
            await self._to_app.put({"type": "lifespan.shutdown"})
            try:
                await asyncio.wait_for(self._lifespan, 5.0)
            except Exception:
                pass

    async def call(self, endpoint: Endpoint) -> Result:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": endpoint.method,
            "scheme": "http",
            "path": endpoint.path,
            "raw_path": endpoint.path.encode("latin-1"),
            "root_path": "",
            "query_string": endpoint.query.encode("latin-1"),
            "headers": [(b"host", b"perfdoctor-bench")],
            "client": ("127.0.0.1", 50000),
            "server": ("perfdoctor-bench", 80),
            "state": {},
        }
        done = asyncio.Event()
        sent_request = False
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[:] = [int(message["status"])]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        slot: list[str] = []
        token = _slot.set(slot)
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            return None, slot[0] if slot else None
        finally:
            done.set()
            _slot.reset(token)
        return (status[0] if status else None), (slot[0] if slot else None)


class HTTPTarget:
    """One keep-alive connection per worker thread."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"bad --url {url!r}: expected e.g. http://127.0.0.1:8000")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.url = url
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            conn = cls(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def request(self, endpoint: Endpoint) -> int:
        """One request; raises OSError/HTTPException when it cannot be made."""
        target = self.prefix + endpoint.path + (f"?{endpoint.query}" if endpoint.query else "")
        conn = self._connection()
        try:
            conn.request(endpoint.method, target)
            response = conn.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            self._local.conn = None
            raise

    def call(self, endpoint: Endpoint) -> Result:
        try:
            return self.request(endpoint), None
        except (OSError, http.client.HTTPException):
            return None, None

    def probe(self, endpoint: Endpoint) -> int:
        try:
            return self.request(endpoint)
        except (OSError, http.client.HTTPException) as exc:
            raise UsageError(f"cannot reach {self.url}: {exc}") from None
