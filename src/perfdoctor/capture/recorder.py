"""Hands finished traces to the store from a background thread, in batches.

The request path only appends to a deque.  A daemon thread encodes what came in
and writes it every ``FLUSH_INTERVAL`` seconds, or every ``BUSY_INTERVAL`` while
the app makes at least ``BUSY_SPANS`` spans a cycle: each cycle costs the
app's requests a fixed share beside its spans' (a wake-up, a transaction, GIL
hand-offs at each SQLite call), which under heavy traffic is worth paying less
often; a developer's few requests still reach the store within a tenth of a
second.  ``atexit`` writes what is left.  What the host app can count on:

- No waiting on the store.  A write is one attempt with a short busy timeout.
  While another process holds the store (a long report, a backup, a second
  writer) the encoded batches wait in memory and are tried again with back-off;
  past ``MAX_PENDING_BYTES`` the oldest are set aside in the spool beside the
  store (:mod:`perfdoctor.store.spool`), which the next writer or ``report`` adds.
- A bounded exit.  At exit, and in an explicit flush, what is left gets the exit
  timeout (``PERFDOCTOR_EXIT_TIMEOUT``, from ``perfdoctor run --exit-timeout``)
  and is then spooled; traces that cannot even be spooled are counted as lost
  (in the store once it can be written, or in the spool), and ``report`` says so.
- Fork safety.  Every SQLite call of the writer is made holding ``_db_lock``,
  and a fork hook takes that lock and closes the connection before the fork: no
  process forks while the writer is inside SQLite (a child would inherit its
  allocator's process-wide lock held, and hang in its own first query), and no
  connection crosses a fork (SQLite forbids using one in a child).  The child
  starts its own thread and connection when it first has a trace.
- A store that cannot be written: the app goes on, and perfdoctor warns once,
  naming the error.
"""

from __future__ import annotations

import atexit
import collections
import dataclasses
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfdoctor import callsite, store
from perfdoctor.capture.context import ActiveTrace, has_sample_counts, take_sample_counts
from perfdoctor.capture.encode import Encoder
from perfdoctor.errors import StoreError
from perfdoctor.store import retention, spool

FLUSH_INTERVAL = 0.1
# Measured in one process (benchmarks/RESULTS.md, 2026-12-05): on a loaded
# 2-vCPU machine back-to-back ORM requests lost 12-16 µs a query to the recorder
# at 0.1 s cycles, 4-8 at 1 s; on a quiet one the two were within 1 µs.
BUSY_INTERVAL = 1.0
# Spans in one cycle from which the app counts as busy: 2000 a second at 0.1 s
# cycles (tens of requests a second; a person clicking through pages makes far
# fewer), and it stays busy while a 1 s cycle finds 200 a second.
BUSY_SPANS = 200
# One write attempt waits this long for another process's lock, then the store
# is tried again later: a fork waits for the attempt under way, so it is short.
ATTEMPT_BUSY_TIMEOUT = 0.05
# Back-off between attempts on a store another process holds.
RETRY_FIRST = 0.05
RETRY_MAX = 1.0
# Traces per transaction: a long transaction would hold up a fork as long.
MAX_BATCH_TRACES = 500
# Encoded traces kept in memory for a held store (a few thousand requests);
# past it the oldest are spooled, so a store held for minutes costs no memory.
MAX_PENDING_BYTES = 16 * 1024 * 1024
# A fork waits at most this long for the writer's attempt under way (it takes
# milliseconds): a hung file system must not stop the app from forking.
FORK_WAIT = 5.0
ENV_EXIT_TIMEOUT = "PERFDOCTOR_EXIT_TIMEOUT"

# A connection a child inherited because its fork could not wait for the
# writer: never used nor closed in the child (SQLite forbids both), and kept
# referenced so that garbage collection does not close it either.
_INHERITED: list[sqlite3.Connection] = []


def exit_timeout() -> float:
    """Seconds a process may spend writing its last traces at exit."""
    value = os.environ.get(ENV_EXIT_TIMEOUT)
    if value:
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if seconds >= 0:
            return seconds
    from perfdoctor.settings import Settings

    return float(Settings.exit_flush_timeout_s)


@dataclasses.dataclass
class _Pending:
    batch: store.Batch
    traces: int
    size: int


# The compiled ``untrack_spans`` (see ``_speedups.c``), or None: then the queued
# spans stay in the collector's view, which costs the app more full collections.
# Measured with the DRF list app (benchmarks/RESULTS.md, 2026-12-06): queued
# traces had 137 objects a request moved to the oldest generation instead of 30,
# and six full collections a thousand requests instead of one.
_untrack_spans: Callable[[list[Any]], None] | None = callsite.compiled("untrack_spans")


def _size(batch: store.Batch) -> int:
    size = sum(len(v) for row in batch.traces for v in row if isinstance(v, (str, bytes)))
    for table in (batch.stacks, batch.statements, batch.orm_catalogs):
        size += sum(len(text) for text in table.values())
    return size


class Recorder:
    def __init__(self, path: Path, max_bytes: int | None = None) -> None:
        self.path = path
        # The store's size cap: checked after enough batches, and at every flush
        # (perfdoctor.store.retention).
        self.retention = retention.Retention(max_bytes)
        self._pid = os.getpid()
        self._conn: sqlite3.Connection | None = None
        self._fork_held = False
        self._warned: set[str] = set()
        self._fresh_state()
        self.written = 0
        self.failed = 0
        self.spooled = 0
        atexit.register(self.close)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(
                before=self._before_fork,
                after_in_parent=self._after_fork_in_parent,
                after_in_child=self._after_fork_in_child,
            )

    def _fresh_state(self) -> None:
        self._queue: collections.deque[ActiveTrace] = collections.deque()
        self._ready: collections.deque[_Pending] = collections.deque()
        self._ready_bytes = 0
        self._wake = threading.Event()
        # The thread waits with no timeout while it has nothing to do (an idle
        # worker costs no wake-ups); a trace or a count coming then wakes it.
        self._idle = False
        # Timed cycles the thread has run (how often an idle process woke).
        self.cycles = 0
        # Every SQLite call of this recorder, and the fork hook.
        self._db_lock = threading.Lock()
        # One writer at a time: the thread, or a flush() caller.
        self._work_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._encoder = Encoder()
        self._stopping = False
        # Spans the last cycle encoded: whether the app is busy (BUSY_SPANS).
        self._encoded_spans = 0
        self._exit_deadline: float | None = None
        self._retry_at = 0.0
        self._backoff = RETRY_FIRST
        # The last failed attempt: its error, and whether another process held the store.
        self._last_error = ""
        self._last_busy = False
        self._merge_due = True
        self._lost = 0
        self._lost_reason = ""

    def submit(self, trace: ActiveTrace) -> None:
        if _untrack_spans is not None:
            _untrack_spans(trace.spans)
        self._queue.append(trace)
        if self._stopping:
            # Interpreter shutdown: no thread will come, write now.
            self.flush()
        elif self._thread is None or self._pid != os.getpid():
            self._start()
        elif self._idle:
            self._wake.set()

    def dropped(self) -> None:
        """A sampled-out request was counted: the thread writes the counts."""
        if self._stopping:
            self.flush()
        elif self._thread is None or self._pid != os.getpid():
            self._start()
        elif self._idle:
            self._wake.set()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None and self._pid == os.getpid():
                return
            self._pid = os.getpid()
            thread = threading.Thread(target=self._run, name="perfdoctor-recorder", daemon=True)
            self._thread = thread
            thread.start()

    # --- fork ---------------------------------------------------------------

    def _before_fork(self) -> None:
        self._fork_held = self._db_lock.acquire(timeout=FORK_WAIT)
        if self._fork_held:
            self._close_connection()

    def _after_fork_in_parent(self) -> None:
        if self._fork_held:
            self._fork_held = False
            self._db_lock.release()

    def _after_fork_in_child(self) -> None:
        # The parent's thread does not exist here, and what it had queued is
        # the parent's to write.
        if self._conn is not None:
            _INHERITED.append(self._conn)
            self._conn = None
        self._fork_held = False
        self._pid = os.getpid()
        self._fresh_state()
        self.retention = self.retention.fresh()

    # --- the work -----------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping:
            if self._has_nothing():
                # Published first, then looked again: a trace queued meanwhile is
                # either seen here or its submit() saw the flag and wakes the wait.
                self._idle = True
                if self._has_nothing():
                    self._wake.wait()
                self._idle = False
                self._wake.clear()
                continue  # (then a timed cycle, which gathers what follows it)
            busy = self._encoded_spans >= BUSY_SPANS
            self._wake.wait(BUSY_INTERVAL if busy else FLUSH_INTERVAL)
            self._wake.clear()
            self.cycles += 1
            with self._work_lock:
                if self._stopping:
                    return
                try:
                    self._work(None)
                except Exception:  # never let the thread die: the next cycle retries
                    pass

    def _has_nothing(self) -> bool:
        """Nothing queued, ready, counted or to merge: a cycle would do nothing."""
        return not (self._queue or self._ready or self._merge_due or has_sample_counts())

    def flush(self, timeout: float | None = None) -> None:
        """Write what is pending, within ``timeout`` seconds (at most the exit
        timeout); what the store cannot take by then is set aside in the spool."""
        limit = exit_timeout()
        if timeout is not None and timeout >= 0:
            limit = min(limit, timeout)
        deadline = time.monotonic() + limit
        if self._exit_deadline is not None:
            deadline = min(deadline, self._exit_deadline)
        # A little grace past the deadline: the thread's attempt under way ends soon.
        if not self._work_lock.acquire(timeout=max(0.0, deadline - time.monotonic()) + 0.2):
            return
        try:
            self._work(deadline)
        finally:
            self._work_lock.release()

    def _work(self, deadline: float | None) -> None:
        """Encode what came in and write what is ready.  ``deadline`` None: the
        thread's cycle, one attempt; else keep trying until then, then spool."""
        self._encode_queued()
        if deadline is None and time.monotonic() < self._retry_at:
            self._spool_overflow()
            return
        backoff = RETRY_FIRST
        attempted = False
        while self._ready:
            if attempted and deadline is not None and time.monotonic() >= deadline:
                break
            attempted = True
            outcome = self._write_next()
            if outcome == "written":
                continue
            if deadline is None:
                self._schedule_retry()
                break
            if outcome == "busy":
                time.sleep(max(0.0, min(backoff, deadline - time.monotonic())))
                backoff = min(backoff * 2, RETRY_MAX / 2)
        if deadline is not None:
            self._set_aside(len(self._ready))
            self._check_size()
        else:
            self._spool_overflow()
            if self._merge_due and not self._ready:
                self._merge()

    def _encode_queued(self) -> None:
        counts = take_sample_counts()
        if counts:
            # In a batch of their own: written, spooled or lost like traces are.
            self._ready.append(_Pending(store.Batch(sampling=counts), 0, 64 * len(counts)))
            self._ready_bytes += 64 * len(counts)
        # What came in by now: traces arriving as fast as they are encoded must
        # not keep the cycle from writing.
        left = len(self._queue)
        self._encoded_spans = 0
        while left > 0 and self._queue:
            rows = store.Batch()
            taken = 0
            try:
                while left > 0 and self._queue and taken < MAX_BATCH_TRACES:
                    active = self._queue.popleft()
                    taken += 1
                    left -= 1
                    self._encoded_spans += len(active.spans)
                    self._encoder.add(active, rows)
            except Exception as exc:
                self.failed += taken
                self._count_lost(taken, f"perfdoctor could not encode a trace: {exc}")
                continue
            pending = _Pending(rows, len(rows.traces), _size(rows))
            self._ready.append(pending)
            self._ready_bytes += pending.size

    def _write_next(self) -> str:
        """One attempt at the oldest ready batch: "written", "busy" or "failed"."""
        pending = self._ready[0]
        error = ""
        busy = lasting = False
        with self._db_lock:
            try:
                conn = self._connection()
                store.write_batch(conn, pending.batch, attempts=1)
                self._encoder.committed(pending.batch)
                self.retention.after_write(conn, self._encoder, pending.size, check=False)
            except Exception as exc:
                error, busy, lasting = str(exc), store.is_busy(exc), isinstance(exc, StoreError)
                if not busy:
                    self._close_connection()
        self._last_error, self._last_busy = error, busy
        if busy:
            return "busy"
        self._ready.popleft()
        self._ready_bytes -= pending.size
        if error:
            self.failed += pending.traces
            if lasting:  # another schema: spooling would not help
                self._count_lost(pending.traces, error)
                self._warn_failed(error, spooled=False)
            else:
                self._spool(pending, error, busy=False)
            return "failed"
        self.written += pending.traces
        self._backoff = RETRY_FIRST
        self._retry_at = 0.0
        if self._lost:
            self._store_lost_count()
        return "written"

    def _check_size(self) -> None:
        """At a flush (exit included): the size cap checked if the thread's writes
        left it unchecked, so that a run ends with its store under the cap."""
        if not self.retention.unchecked:
            return
        with self._db_lock:
            conn = self._conn
            if conn is not None:
                self.retention.after_write(conn, self._encoder, 0, check=True)

    def _connection(self) -> sqlite3.Connection:
        # Called holding _db_lock.
        if self._conn is None:
            self._encoder.forget_written()
            self._conn = store.open_for_writing(
                self.path, busy_timeout=ATTEMPT_BUSY_TIMEOUT, attempts=1
            )
            self._merge_due = True
        return self._conn

    def _close_connection(self) -> None:
        # Called holding _db_lock.
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def _schedule_retry(self) -> None:
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, RETRY_MAX)

    # --- when the store cannot take them -------------------------------------

    def _spool_overflow(self) -> None:
        if self._ready_bytes > MAX_PENDING_BYTES:
            keep = 0
            size = self._ready_bytes
            while size > MAX_PENDING_BYTES // 2 and keep < len(self._ready):
                size -= self._ready[keep].size
                keep += 1
            self._set_aside(keep)

    def _set_aside(self, how_many: int) -> None:
        """Spool the oldest ready batches: the store did not take them in time."""
        if self._last_busy:
            reason = f"held by another process: {self._last_error}"
        else:
            reason = self._last_error or "not written within the exit timeout"
        for _ in range(how_many):
            pending = self._ready.popleft()
            self._ready_bytes -= pending.size
            self._spool(pending, reason, busy=self._last_busy or not self._last_error)

    def _spool(self, pending: _Pending, error: str, busy: bool) -> None:
        fields = {f.name: getattr(pending.batch, f.name) for f in dataclasses.fields(pending.batch)}
        try:
            spool.set_aside(self.path, store.SCHEMA_VERSION, pending.traces, fields)
        except Exception as exc:
            self._count_lost(pending.traces, error)
            self._warn_failed(
                f"{error} (nor set them aside in {spool.folder(self.path)}: {exc})", spooled=False
            )
            return
        self.spooled += pending.traces
        self._merge_due = True
        if busy:
            self._warn(
                "spooled",
                f"perfdoctor: the trace store {self.path} could not take traces in time "
                f"({error}); the app keeps running, and they wait in "
                f"{spool.folder(self.path)} until the next perfdoctor report adds them",
            )
        else:
            self._warn_failed(error, spooled=True)

    def _count_lost(self, traces: int, reason: str) -> None:
        self._lost += traces
        self._lost_reason = reason

    def _store_lost_count(self) -> None:
        key = f"{os.getpid()}-{time.time_ns()}"
        with self._db_lock:
            try:
                if self._conn is not None:
                    store.record_lost(self._conn, key, self._lost, self._lost_reason, attempts=1)
                    self._lost = 0
            except Exception:
                pass

    def _merge(self) -> None:
        """Add spooled traces (this process's, or others') to the store, a file at a time."""
        for file in spool.files(self.path):
            if self._stopping:
                return
            spooled = store.read_spooled(file)  # parsed before the store is taken
            if spooled is None:
                continue
            with self._db_lock:
                try:
                    store.merge_spooled(self._connection(), spooled)
                    continue
                except Exception as exc:
                    if not store.is_busy(exc):
                        self._close_connection()
            self._schedule_retry()
            return
        self._merge_due = False
        spool.tidy(self.path)

    def _warn_failed(self, error: str, spooled: bool) -> None:
        then = (
            f"and the traces wait in {spool.folder(self.path)} until the next perfdoctor report"
            if spooled
            else "but these traces are not stored (choose a writable file with --traces)"
        )
        self._warn(
            "failed",
            f"perfdoctor: cannot write traces to {self.path}: {error}; "
            f"the app keeps running, {then}",
        )

    def _warn(self, kind: str, line: str) -> None:
        if kind in self._warned:
            return
        self._warned.add(kind)
        try:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except Exception:
            pass

    def close(self) -> None:
        if self._pid != os.getpid():
            return
        self._stopping = True
        self._exit_deadline = time.monotonic() + exit_timeout()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(0.0, self._exit_deadline - time.monotonic()))
        self.flush()
        if self._lost:
            try:
                spool.record_lost(self.path, self._lost, self._lost_reason)
                self._lost = 0
            except Exception:
                pass
        if self._db_lock.acquire(timeout=FORK_WAIT):
            try:
                self._close_connection()
            finally:
                self._db_lock.release()
