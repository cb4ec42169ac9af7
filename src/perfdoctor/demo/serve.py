"""Serve the demo app: ``python -m perfdoctor.demo.serve [--db PATH] [--port-file FILE]``.

Seeds the database if needed, listens on 127.0.0.1 (a free port unless
``--port`` says otherwise) with werkzeug's threaded WSGI server, and writes
the port to ``--port-file`` once it accepts connections.  SIGTERM and Ctrl-C
stop it gracefully: no new connections, requests in flight are finished, then
the interpreter exits normally, so ``atexit`` handlers (perfdoctor writing its
last traces) run.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from perfdoctor.capture.wsgi import ClosingBody
from perfdoctor.demo import DemoError, default_database

HOST = "127.0.0.1"
# How long a stop waits for requests in flight before the process exits anyway.
DRAIN_SECONDS = 10.0

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Stop(BaseException):
    """Raised in the main thread by the SIGTERM handler to leave ``serve_forever``.

    A BaseException: socketserver swallows an ``Exception`` raised while the main
    thread starts a request's thread (it only prints it), and serving went on.
    """


class InFlight:
    """WSGI middleware counting requests until their body is closed.

    The client has its response before the server closes the body (which is
    when the request's trace is finished), so a stop waits for this count to
    reach zero.
    """

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.active = 0
        self._idle = threading.Condition()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with self._idle:
            self.active += 1
        try:
            body = self.app(environ, start_response)
        except BaseException:
            self._done()
            raise
        return ClosingBody(body, self._done)

    def _done(self) -> None:
        with self._idle:
            self.active -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self.active <= 0, timeout)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _write_port(port_file: Path, port: int) -> None:
    # Written under another name and renamed: a reader never sees half a number.
    port_file.parent.mkdir(parents=True, exist_ok=True)
    temporary = port_file.with_name(port_file.name + ".tmp")
    temporary.write_text(f"{port}\n", encoding="utf-8")
    os.replace(temporary, port_file)


def _raise_stop(_signum: int, _frame: FrameType | None) -> None:
    raise Stop


def serve(database: Path, port: int = 0, port_file: Path | None = None, log: bool = True) -> None:
    """Seed if needed, then serve until SIGTERM or Ctrl-C."""
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        _serve(database, port, port_file, log)
    except (Stop, KeyboardInterrupt):
        _status("stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)


def _serve(database: Path, port: int, port_file: Path | None, log: bool) -> None:
    from perfdoctor.demo.app import create_app
    from perfdoctor.demo.seed import ensure_seeded

    ensure_seeded(database, _status)
    app = InFlight(create_app(database))
    handler = WSGIRequestHandler if log else _QuietHandler
    server = make_server(HOST, port, app, threaded=True, request_handler=handler)
    try:
        if port_file is not None:
            _write_port(port_file, server.server_port)
        _status(f"demo app on http://{HOST}:{server.server_port}/ (database {database})")
        server.serve_forever(poll_interval=0.2)
    finally:
        # Stop accepting, then let the requests in flight finish (and their
        # traces be handed over) before the interpreter exits.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        server.server_close()
        if not app.wait_idle(DRAIN_SECONDS):
            _status(f"{app.active} request(s) still running after {DRAIN_SECONDS:.0f}s")


def _status(message: str) -> None:
    print(f"perfdoctor demo: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m perfdoctor.demo.serve", description="Serve perfdoctor's demo app."
    )
    parser.add_argument("--db", type=Path, default=None, help="demo SQLite file")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: free)")
    parser.add_argument("--port-file", type=Path, default=None, help="write the port here")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    try:
        serve(args.db or default_database(), args.port, args.port_file, log=not args.quiet)
    except (DemoError, OSError) as exc:
        _status(f"error: {exc}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
