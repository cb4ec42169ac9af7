"""Decoded requests waiting for the writer, bounded by their number of spans."""

from __future__ import annotations

import threading

from perfdoctor.otlp.decode import OtlpSpan


class SpanQueue:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: list[list[OtlpSpan]] = []
        self._held = 0
        self._closed = False
        self._cond = threading.Condition()

    def full(self) -> bool:
        with self._cond:
            return self._held >= self.capacity

    def offer(self, spans: list[OtlpSpan]) -> bool:
        """Queue these spans, or False when they do not fit (or the queue is closed).

        An empty queue takes any request, so one larger than the capacity is not
        refused for ever."""
        with self._cond:
            if self._closed or (self._items and self._held + len(spans) > self.capacity):
                return False
            self._items.append(spans)
            self._held += len(spans)
            self._cond.notify()
            return True

    def take(self, timeout: float) -> tuple[list[list[OtlpSpan]], bool]:
        """Everything queued (waiting up to ``timeout`` for something), and whether the
        queue is closed and now empty: the writer's last round."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            items, self._items, self._held = self._items, [], 0
            return items, self._closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
