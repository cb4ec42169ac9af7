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
import itertools
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any, Optional
from urllib.parse import urlsplit

from perfdoctor.bench.spec import Endpoint
from perfdoctor.capture import context, server_timing
from perfdoctor.errors import UsageError

# --header NAME: VALUE pairs sent with every request (an API token, a session cookie).
Headers = tuple[tuple[str, str], ...]
# (status or None when the call failed, trace id or None, response body bytes or None)
Result = tuple[Optional[int], Optional[str], Optional[int]]

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


def environ_headers(headers: Headers) -> dict[str, str]:
    """``--header`` pairs as WSGI environ keys."""
    environ = {}
    for name, value in headers:
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
        else:
            environ[f"HTTP_{key}"] = value
    return environ


class WSGITarget:
    def __init__(self, app: Callable[..., Iterable[bytes]], headers: Headers = ()) -> None:
        self.app = app
        self.headers = environ_headers(headers)
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
            **self.headers,
        }
        status: list[int] = []

        def start_response(line: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            status[:] = [int(line.split(" ", 1)[0])]
            return lambda data: None

        slot: list[str] = []
        size = 0
        token = _slot.set(slot)
        try:
            body = self.app(environ, start_response)
            try:
                for chunk in body:
                    size += len(chunk)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            return None, slot[0] if slot else None, None
        finally:
            _slot.reset(token)
        return (status[0] if status else None), (slot[0] if slot else None), size


class ASGITarget:
    def __init__(self, app: Any, headers: Headers = ()) -> None:
        self.app = app
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
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
                pass  # an app without lifespan support may raise on the scope: it has none
            # ...or return at once (uvicorn takes both for "no lifespan"). After a real
            # shutdown nobody reads this.
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
            "headers": [(b"host", b"perfdoctor-bench"), *self.headers],
            "client": ("127.0.0.1", 50000),
            "server": ("perfdoctor-bench", 80),
            "state": {},
        }
        done = asyncio.Event()
        sent_request = False
        status: list[int] = []
        size = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal size
            if message["type"] == "http.response.start":
                status[:] = [int(message["status"])]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
                if not message.get("more_body"):
                    done.set()

        slot: list[str] = []
        token = _slot.set(slot)
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            return None, slot[0] if slot else None, None
        finally:
            done.set()
            _slot.reset(token)
        return (status[0] if status else None), (slot[0] if slot else None), size


class HTTPTarget:
    """One keep-alive connection per worker thread."""

    def __init__(self, url: str, headers: Headers = (), timeout: float = 30.0) -> None:
        self.headers = dict(headers)
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
        # What the server's Server-Timing headers said, per sample (see call).
        self.facts: dict[str, dict[str, Any]] = {}
        self._responses = itertools.count()

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            conn = cls(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def request(self, endpoint: Endpoint) -> tuple[int, int, str | None]:
        """One request's status, body bytes and Server-Timing header; raises
        OSError/HTTPException when it cannot be made."""
        target = self.prefix + endpoint.path + (f"?{endpoint.query}" if endpoint.query else "")
        reused = getattr(self._local, "conn", None) is not None
        conn = self._connection()
        try:
            conn.request(endpoint.method, target, headers=self.headers)
            response = conn.getresponse()
            size = len(response.read())
            return response.status, size, response.getheader(server_timing.HEADER)
        except (OSError, http.client.HTTPException):
            conn.close()
            self._local.conn = None
            if reused:
                # The server closed a keep-alive connection that sat idle (the other side's
                # round, a slow endpoint): once more on a new one, as browsers do.
                return self.request(endpoint)
            raise

    def call(self, endpoint: Endpoint) -> Result:
        try:
            status, size, timing = self.request(endpoint)
        except (OSError, http.client.HTTPException):
            return None, None, None
        queries = server_timing.queries_in(timing)
        if queries is None:
            return status, None, size
        # A server under `perfdoctor run --server-timing` says what each request ran: the
        # sample is matched to it as an in-process one is to its trace.
        key = f"server-timing-{next(self._responses)}"
        self.facts[key] = {"queries": queries, "rows": None, "cpu_ms": None, "memory_kb": None}
        return status, key, size

    def probe(self, endpoint: Endpoint) -> int:
        try:
            return self.request(endpoint)[0]
        except (OSError, http.client.HTTPException) as exc:
            raise UsageError(f"cannot reach {self.url}: {exc}") from None
