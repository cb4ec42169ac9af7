"""cache-no-ttl: a value written to a cache with no expiry.

Such an entry lives until something deletes it: it is never refreshed when the
data behind it changes, and in Redis (whose default eviction policy evicts
nothing) every such key adds to memory for good.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from perfdoctor.detectors import register
from perfdoctor.detectors._cache import EXPIRES, CacheOp, call_site, operations
from perfdoctor.detectors.base import Session, Summarising, finding_fingerprint
from perfdoctor.model import Finding, Location, Trace
from perfdoctor.settings import Settings


class _Writes:
    """Unexpiring writes of one (system, op, key pattern, call site) so far:
    counts and the distinct keys, not the operations."""

    def __init__(self, op: CacheOp) -> None:
        self.writes = 0
        self.keys: set[str | None] = set()
        self.requests = 0
        self.last: str | None = None
        self.endpoints: Counter[str] = Counter()
        self.backend = op.attrs.get("backend") or op.span.attrs.get("backend")

    def add(self, op: CacheOp) -> None:
        self.writes += 1
        self.keys.add(op.key_digest)
        if self.last != op.trace.id:  # a trace's operations come one after another
            self.last = op.trace.id
            self.requests += 1
        self.endpoints[op.trace.name] += 1


def _unexpired_writes(trace: Trace) -> list[CacheOp]:
    """Writes with no expiry that no later EXPIRE/touch in the same request fixed."""
    ops = operations(trace)
    found = []
    for index, op in enumerate(ops):
        if not op.is_write() or op.has_ttl():
            continue
        later = ops[index + 1 :]
        if any(o.op in EXPIRES and o.key_digest == op.key_digest and o.has_ttl() for o in later):
            continue
        found.append(op)
    return found


def _fix(system: str | None, op: str) -> str:
    if system == "django-cache":
        return (
            "Give the entry a lifetime: cache.set(key, value, timeout=300) (or "
            f"cache.{op}(..., timeout=300)). timeout=None means never expire; leaving the "
            "argument out uses the cache's default, CACHES[alias]['TIMEOUT'] (300 s unless "
            "set to None). Delete or version the key when the data behind it changes."
        )
    return (
        "Set an expiry in the same command: r.set(key, value, ex=300) (or "
        "r.setex(key, 300, value)); for MSET/HSET, follow with r.expire(key, 300) in the same "
        "pipeline. Keys with no TTL are never evicted under Redis's default "
        "maxmemory-policy (noeviction)."
    )


class _Session(Session):
    def __init__(self, detector: CacheNoTtl, settings: Settings) -> None:
        self.detector, self.settings = detector, settings
        self.groups: dict[tuple[object, ...], _Writes] = {}

    def feed(self, traces: Sequence[Trace]) -> None:
        for trace in traces:
            for op in _unexpired_writes(trace):
                key = (op.system, op.op, op.key, op.location)
                group = self.groups.get(key)
                if group is None:
                    group = self.groups[key] = _Writes(op)
                group.add(op)

    def findings(self) -> list[Finding]:
        found = []
        for (system, name, pattern, location), writes in self.groups.items():
            if writes.writes < self.settings.cache_no_ttl_min_writes:
                continue
            loc = location if isinstance(location, Location) else None
            found.append(self.detector._finding(str(system), str(name), pattern, loc, writes))
        return found


@register
class CacheNoTtl(Summarising):
    id = "cache-no-ttl"
    description = "a cache write with no expiry"

    def session(self, settings: Settings) -> Session:
        return _Session(self, settings)

    def _finding(
        self, system: str, op: str, pattern: object, location: Location | None, writes: _Writes
    ) -> Finding:
        endpoint = writes.endpoints.most_common(1)[0][0]
        evidence = {
            "op": op,
            "key": pattern,
            "system": system,
            "writes": writes.writes,
            "distinct_keys": len(writes.keys),
            "requests_affected": writes.requests,
            "endpoints": sorted(writes.endpoints),
            "call_site": call_site(location),
        }
        if writes.backend:
            evidence["backend"] = writes.backend
        label = "Django cache" if system == "django-cache" else "Redis"
        return Finding(
            id=self.id,
            severity="warning",
            title=f"{label} {op} of {pattern!s} with no expiry (TTL)",
            endpoint=endpoint,
            location=location,
            evidence=evidence,
            fix=_fix(system, op),
            fingerprint=finding_fingerprint(self.id, system, op, pattern, location),
        )
