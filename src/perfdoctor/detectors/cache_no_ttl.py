"""cache-no-ttl: a value written to a cache with no expiry.

Such an entry lives until something deletes it: it is never refreshed when the
data behind it changes, and in Redis (whose default eviction policy evicts
nothing) every such key adds to memory for good.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from perfdoctor.detectors import register
from perfdoctor.detectors._cache import EXPIRES, CacheOp, call_site, operations
from perfdoctor.detectors.base import Detector, finding_fingerprint
from perfdoctor.model import Finding, Location, Trace
from perfdoctor.settings import Settings


@dataclass
class _Writes:
    ops: list[CacheOp] = field(default_factory=list)


def _unexpired_writes(trace: Trace) -> list[CacheOp]:
    """Writes with no expiry that no later EXPIRE/touch in the same request fixed."""
    ops = list(operations(trace))
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


@register
class CacheNoTtl(Detector):
    id = "cache-no-ttl"
    description = "a cache write with no expiry"
    reads = frozenset({"cache"})

    def analyze(self, traces: Sequence[Trace], settings: Settings) -> list[Finding]:
        groups: dict[tuple[object, ...], _Writes] = {}
        for trace in traces:
            for op in _unexpired_writes(trace):
                key = (op.system, op.op, op.key, op.location)
                groups.setdefault(key, _Writes()).ops.append(op)
        found = []
        for (system, name, pattern, location), writes in groups.items():
            if len(writes.ops) < settings.cache_no_ttl_min_writes:
                continue
            loc = location if isinstance(location, Location) else None
            found.append(self._finding(str(system), str(name), pattern, loc, writes.ops))
        return found

    def _finding(
        self, system: str, op: str, pattern: object, location: Location | None, ops: list[CacheOp]
    ) -> Finding:
        endpoints = Counter(o.trace.name for o in ops)
        endpoint = endpoints.most_common(1)[0][0]
        evidence = {
            "op": op,
            "key": pattern,
            "system": system,
            "writes": len(ops),
            "distinct_keys": len({o.key_digest for o in ops}),
            "requests_affected": len({o.trace.id for o in ops}),
            "endpoints": sorted(endpoints),
            "call_site": call_site(location),
        }
        backend = ops[0].attrs.get("backend") or ops[0].span.attrs.get("backend")
        if backend:
            evidence["backend"] = backend
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
