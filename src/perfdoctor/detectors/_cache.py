"""What the cache detectors read from ``cache`` spans: writes, reads and expiries.

A redis pipeline is one span whose ``writes`` attr lists the writes it sent;
here each of them counts as a write of its own, at the pipeline's call site.
"""

from __future__ import annotations

from typing import Any

from perfdoctor.analysis.pertrace import PerTrace
from perfdoctor.detectors._kinds import of_kind
from perfdoctor.model import Location, Span, Trace

# Operations that store a value under a key (redis commands and Django cache methods).
VALUE_WRITES = frozenset(
    {"set", "setex", "psetex", "setnx", "getset", "mset", "msetnx", "add", "set_many"}
)
# Operations that give an existing key an expiry after it was written.
EXPIRES = frozenset({"expire", "pexpire", "expireat", "pexpireat", "touch"})
# Reads that return a value a request then uses.
VALUE_READS = frozenset({"get", "getdel", "getex", "get_or_set"})


class CacheOp:
    """One cache operation as the detectors see it (a pipeline's writes unpacked).

    Made once per trace and shared by every cache detector (:func:`operations`):
    readers must not change it.  A class with slots, its ``op`` read once: a
    real app's page makes dozens of cache operations, each asked several
    questions by three detectors.
    """

    __slots__ = ("attrs", "op", "span", "trace")

    def __init__(self, trace: Trace, span: Span, attrs: dict[str, Any]) -> None:
        self.trace = trace
        self.span = span
        self.attrs = attrs
        self.op = str(attrs.get("op") or "")

    def __repr__(self) -> str:
        return f"CacheOp(op={self.op!r}, span={self.span!r})"

    @property
    def system(self) -> str | None:
        return self.span.system or self.span.attrs.get("system")

    @property
    def key(self) -> str | None:
        key = self.attrs.get("key")
        return key if isinstance(key, str) else None

    @property
    def key_digest(self) -> str | None:
        digest = self.attrs.get("key_digest")
        return digest if isinstance(digest, str) else None

    @property
    def location(self) -> Location | None:
        return self.span.location

    @property
    def at_ms(self) -> float:
        """When it happened, on one clock for every trace."""
        return self.trace.started_at * 1000.0 + self.span.start_ms

    def is_write(self) -> bool:
        """It stored a value (an ``add`` that found the key, or a cache hit, did not)."""
        op = self.op
        if op == "get_or_set":
            return self.attrs.get("written") is True
        if op == "add":
            return self.attrs.get("written", True) is not False
        return op in VALUE_WRITES

    def is_hit(self) -> bool:
        return self.op in VALUE_READS and self.attrs.get("hit") is True

    def is_miss(self) -> bool:
        if self.op == "get_or_set":
            return self.attrs.get("written") is True
        return self.attrs.get("hit") is False

    def has_ttl(self) -> bool:
        return self.attrs.get("ttl") is not None or bool(self.attrs.get("ttl_kept"))


def _operations(trace: Trace) -> list[CacheOp]:
    ops: list[CacheOp] = []
    for span in of_kind(trace, "cache"):
        attrs = span.attrs
        writes = attrs.get("writes")
        if attrs.get("op") == "pipeline" and isinstance(writes, list):
            ops.extend(CacheOp(trace, span, write) for write in writes if isinstance(write, dict))
        else:
            ops.append(CacheOp(trace, span, attrs))
    return ops


# Three detectors read every trace's cache operations: made once per trace.
_operations_of = PerTrace(_operations)


def operations(trace: Trace) -> list[CacheOp]:
    """The trace's cache operations in order, a pipeline's writes each one."""
    if not of_kind(trace, "cache"):
        return []
    return _operations_of(trace)


def call_site(location: Location | None) -> str | None:
    from perfdoctor.detectors._sites import shown_path

    return f"{shown_path(location.path)}:{location.line}" if location else None
