"""Hands finished traces to the store from a background thread, in batches.

The request path only appends to a deque.  A daemon thread converts and writes
every ``FLUSH_INTERVAL`` seconds; ``atexit`` writes what is left.  After a fork
(gunicorn workers) the child starts its own thread and its own connection.  If
the store cannot be written, the app goes on and perfdoctor warns once.
"""

from __future__ import annotations

import atexit
import collections
import os
import sqlite3
import sys
import threading
from pathlib import Path

from perfdoctor import retention, store
from perfdoctor.capture.context import ActiveTrace
from perfdoctor.capture.encode import Encoder

FLUSH_INTERVAL = 0.1


class Recorder:
    def __init__(self, path: Path, max_bytes: int | None = None) -> None:
        self.path = path
        # The store's size cap: checked after each batch (perfdoctor.retention).
        self.retention = retention.Retention(max_bytes)
        self._pending: collections.deque[ActiveTrace] = collections.deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._conn: sqlite3.Connection | None = None
        self._encoder = Encoder()
        self._warned = False
        self._stopping = False
        self.written = 0
        self.failed = 0
        atexit.register(self.close)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    def submit(self, trace: ActiveTrace) -> None:
        self._pending.append(trace)
        if self._stopping:
            # Interpreter shutdown: no thread will come, write now.
            self.flush()
        elif self._thread is None or self._pid != os.getpid():
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._pid == os.getpid():
                return
            self._pid = os.getpid()
            thread = threading.Thread(target=self._run, name="perfdoctor-recorder", daemon=True)
            self._thread = thread
            thread.start()

    def _after_fork(self) -> None:
        # The parent's thread and connection do not exist here; what the parent
        # had queued is the parent's to write.
        self._pending = collections.deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread = None
        self._conn = None
        self._encoder = Encoder()
        self.retention = self.retention.fresh()
        self._pid = os.getpid()
        self._stopping = False

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(FLUSH_INTERVAL)
            self._wake.clear()
            self.flush()

    def flush(self, timeout: float = -1) -> None:
        """Write what is pending; with a ``timeout``, give up if the lock stays taken."""
        if not self._lock.acquire(timeout=timeout):
            return
        try:
            batch: list[ActiveTrace] = []
            while self._pending:
                batch.append(self._pending.popleft())
            if not batch:
                return
            encoder = self._encoder
            try:
                if self._conn is None:
                    encoder.forget_written()
                    self._conn = store.open_for_writing(self.path)
                rows = store.Batch()
                for active in batch:
                    encoder.add(active, rows)
                self.written += store.write_batch(self._conn, rows)
                encoder.committed(rows)
                self.retention.after_write(self._conn, encoder)
            except Exception as exc:
                self.failed += len(batch)
                self._conn = None
                self._warn(exc)
        finally:
            self._lock.release()

    def _warn(self, exc: Exception) -> None:
        if self._warned:
            return
        self._warned = True
        try:
            sys.stderr.write(
                f"perfdoctor: cannot write traces to {self.path}: {exc}; "
                "the app keeps running, but these traces are not stored "
                "(choose a writable file with --traces)\n"
            )
            sys.stderr.flush()
        except Exception:
            pass

    def close(self) -> None:
        if self._pid != os.getpid():
            return
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
        self.flush()
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None
