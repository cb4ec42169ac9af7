"""The one thread that writes received spans into the store.

Spans are held per trace until the trace's root span has come (an SDK exports
children as they end, before the root), then written in batches through the
same mapping and late-span merging as ``perfdoctor import otlp``.  Spans whose
root is slow to come are written after ``collect_hold_s`` on their own, and the
root, when it comes, is merged into them.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from typing import Any, TextIO

from perfdoctor import store
from perfdoctor.otlp import command
from perfdoctor.otlp.decode import OtlpSpan
from perfdoctor.settings import Settings

from .queue import SpanQueue
from .tail import TailRule

# How often the writer looks at the held spans when nothing arrives.
_TICK_S = 0.5
# After a failed write (another process holds the store), wait before trying again.
_RETRY_S = 1.0


class Writer(threading.Thread):
    def __init__(
        self,
        queue: SpanQueue,
        target: command.StoreTarget,
        settings: Settings,
        err: TextIO = sys.stderr,
        tail: TailRule | None = None,
    ) -> None:
        super().__init__(name="perfdoctor-collect-writer", daemon=True)
        self.queue = queue
        self.target = target
        self.settings = settings
        self.err = err
        # Counts, not the ids an import keeps: a receiver runs for days.
        self.traces_written = 0
        self.spans_written = 0
        self.received = 0
        # Queries the ORM's and the driver's instrumentation both sent: counted once.
        self.layered = 0
        self.dropped = 0
        self.tail = tail
        self._pending: dict[str, list[OtlpSpan]] = {}
        self._since: dict[str, float] = {}
        self._rooted: set[str] = set()
        self._held = 0

    def run(self) -> None:
        last = False
        while not last:
            items, last = self.queue.take(_TICK_S)
            now = time.monotonic()
            for spans in items:
                self._add(spans, now)
            self._flush(now, everything=last or self._held > self.settings.collect_queue_spans)

    def _add(self, spans: list[OtlpSpan], now: float) -> None:
        self.received += len(spans)
        self._held += len(spans)
        for span in spans:
            group = self._pending.get(span.trace_id)
            if group is None:
                group = self._pending[span.trace_id] = []
                self._since[span.trace_id] = now
            group.append(span)
            if span.parent_id is None:
                self._rooted.add(span.trace_id)

    def _flush(self, now: float, everything: bool) -> None:
        if everything:
            ready = list(self._pending)
        else:
            old = now - self.settings.collect_hold_s
            ready = list(self._rooted | {t for t, at in self._since.items() if at <= old})
        if not ready:
            return
        groups = [self._pending[t] for t in ready]
        if not self._write(groups, keep=not everything):
            return
        for trace_id in ready:
            self._held -= len(self._pending.pop(trace_id))
            del self._since[trace_id]
        self._rooted.difference_update(ready)

    def _write(self, groups: list[list[OtlpSpan]], keep: bool) -> bool:
        """Whether the groups are done with: written, or dropped after an error."""
        samples: dict[str, dict[str, Any]] = {}
        counts: list[tuple[str, int, int]] = []
        if self.tail is not None:
            groups, samples, counts = self._sampled(groups)
        try:
            batch = command.Summary()
            command.write_groups(self.target, groups, self.settings, batch, samples)
            if counts:
                store.write_batch(self.target.conn(), store.Batch(sampling=counts))
            # Traces written before and given spans that came later are not new ones.
            self.traces_written += len(batch.written - batch.before - batch.merged)
            self.spans_written += batch.spans
            self.layered += batch.layered
            return True
        except sqlite3.Error as exc:
            if counts and self.tail is not None:
                self.tail.restore_counts(counts)
            if store.is_busy(exc) and keep:
                # Kept and tried again; meanwhile the queue fills and senders get 429.
                self.err.write(f"perfdoctor: the trace store is busy ({exc}); retrying\n")
                time.sleep(_RETRY_S)
                return False
            lost = sum(len(g) for g in groups)
            self.dropped += lost
            self.err.write(f"perfdoctor: error: writing {lost} spans failed: {exc}\n")
            return True

    def _sampled(
        self, groups: list[list[OtlpSpan]]
    ) -> tuple[list[list[OtlpSpan]], dict[str, dict[str, Any]], list[tuple[str, int, int]]]:
        """The groups the tail rule keeps, their sample attributes, and the counts."""
        assert self.tail is not None
        kept: list[list[OtlpSpan]] = []
        samples: dict[str, dict[str, Any]] = {}
        for group in groups:
            sample = self.tail.decide(group)
            if sample is None:
                continue
            kept.append(group)
            samples[group[0].trace_id] = sample
        return kept, samples, self.tail.take_counts()
