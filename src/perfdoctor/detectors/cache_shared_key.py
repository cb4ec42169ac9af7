"""cache-shared-key: one user's data, cached under a key with no user part, served to another.

The evidence is direct: the very entry (same key digest) was written during
user A's request and read back, with the very value written (same value
digest), during user B's request, both requests authenticated.  That alone also
fits data meant for everyone (a site-wide menu read by logged-in users), so the
entry must also be user-dependent: its key or its view names per-user data
(profile, account, cart, "me"...), or different users were seen writing
different values under the key's pattern.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from perfdoctor.detectors import register
from perfdoctor.detectors._cache import call_site, operations
from perfdoctor.detectors.base import Session, Summarising, finding_fingerprint
from perfdoctor.model import Finding, Location, Trace
from perfdoctor.settings import Settings

# Words of a key or a route that name one user's own data.  Whole words only for
# the short ones ("me" is not "message"); the stems may be part of a word.
_PERSONAL_WORDS = frozenset({"me", "my", "mine", "self", "current", "viewer", "whoami", "session"})
_PERSONAL_STEMS = (
    "profile",
    "account",
    "cart",
    "basket",
    "inbox",
    "dashboard",
    "preference",
    "wishlist",
    "billing",
    "invoice",
    "private",
    "personal",
    "notification",
)
_WORD = re.compile(r"[a-z]+")


def names_personal_data(text: str | None) -> bool:
    if not text:
        return False
    words = _WORD.findall(text.lower())
    return any(w in _PERSONAL_WORDS or any(s in w for s in _PERSONAL_STEMS) for w in words)


def _user(trace: Trace) -> str | None:
    user = trace.attrs.get("user")
    if trace.attrs.get("authenticated") is True and isinstance(user, str) and user:
        return user
    return None


class _Op(NamedTuple):
    """What a leak needs of one cache write or hit (a few fields, not the span)."""

    at_ms: float
    request: int  # the trace's number in the session: the same request or not
    write: bool
    user: str | None
    value: object
    system: object
    key: object
    location: Location | None
    endpoint: str
    trace_id: str


@dataclass
class _Leak:
    """Reads of one key pattern, in one view, that returned another user's value."""

    reads: list[_Op] = field(default_factory=list)
    writes: list[_Op] = field(default_factory=list)
    users: set[str] = field(default_factory=set)


class _Session(Session):
    """Per cache entry, its writes and the hits that could be another user's
    value (a hit with no logged-in reader or no value digest never is); per key
    pattern, the values each user wrote."""

    def __init__(self, detector: CacheSharedKey, settings: Settings) -> None:
        self.detector, self.settings = detector, settings
        self.by_entry: dict[tuple[object, ...], list[_Op]] = defaultdict(list)
        self.values: dict[tuple[object, ...], dict[str, set[object]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self.seen = 0
        # One copy of each system, key pattern and endpoint for every operation
        # kept (each trace decodes its own; the operations are kept to the end).
        self.strings: dict[object, object] = {}

    def feed(self, traces: Sequence[Trace]) -> None:
        one = self.strings.setdefault
        for trace in traces:
            self.seen += 1
            user = _user(trace)
            for op in operations(trace):
                write = op.is_write()
                value = op.attrs.get("value_digest")
                if write and user is not None and value:
                    self.values[(op.system, op.key)][user].add(value)
                if not op.key_digest or not (write or (op.is_hit() and user and value)):
                    continue
                system, key, name = op.system, op.key, trace.name
                self.by_entry[(one(system, system), op.key_digest)].append(
                    _Op(
                        op.at_ms, self.seen, write, user, value, one(system, system),
                        one(key, key), op.location, str(one(name, name)), trace.id,
                    )
                )

    def leaks(self) -> dict[tuple[object, ...], _Leak]:
        leaks: dict[tuple[object, ...], _Leak] = {}
        for ops in self.by_entry.values():
            last_write: _Op | None = None
            for op in sorted(ops, key=lambda o: o.at_ms):
                if op.write:
                    last_write = op
                    continue
                if last_write is None or last_write.request == op.request:
                    continue
                writer, reader = last_write.user, op.user
                if writer is None or reader is None or writer == reader or op.value is None:
                    continue
                if op.value != last_write.value:
                    continue
                leak = leaks.setdefault((op.system, op.key, op.endpoint, op.location), _Leak())
                leak.reads.append(op)
                leak.writes.append(last_write)
                leak.users.update((writer, reader))
        return leaks

    def differ(self) -> set[tuple[object, ...]]:
        """(system, key pattern) pairs under which different users wrote different values."""
        differ = set()
        for pattern, by_user in self.values.items():
            seen = [frozenset(v) for v in by_user.values()]
            if len(by_user) >= 2 and len(set(seen)) >= 2:
                differ.add(pattern)
        return differ

    def findings(self) -> list[Finding]:
        leaks = self.leaks()
        if not leaks:
            return []
        differ = self.differ()
        found = []
        for (system, pattern, endpoint, location), leak in leaks.items():
            if len(leak.users) < self.settings.cache_shared_key_min_users:
                continue
            personal = names_personal_data(str(pattern)) or names_personal_data(str(endpoint))
            if not personal and (system, pattern) not in differ:
                continue
            loc = location if isinstance(location, Location) else None
            found.append(self.detector._finding(system, pattern, str(endpoint), loc, leak))
        return found


@register
class CacheSharedKey(Summarising):
    id = "cache-shared-key"
    description = "one user's cached data served to another user (a key with no user part)"

    def session(self, settings: Settings) -> Session:
        return _Session(self, settings)

    def _finding(
        self,
        system: object,
        pattern: object,
        endpoint: str,
        location: Location | None,
        leak: _Leak,
    ) -> Finding:
        write_sites = sorted({s for s in (call_site(w.location) for w in leak.writes) if s})
        django = system == "django-cache"
        return Finding(
            id=self.id,
            severity="error",
            title=(
                f"Cache key {pattern!s} has no user part: {len(leak.users)} users were served "
                "data cached during another user's request"
            ),
            endpoint=endpoint,
            location=location,
            evidence={
                "key": pattern,
                "system": system,
                "view": endpoint,
                "call_site": call_site(location),
                "write_sites": write_sites,
                "users": len(leak.users),
                "reads_of_another_users_value": len(leak.reads),
                "requests_affected": len({r.trace_id for r in leak.reads}),
                "writer_endpoints": sorted({w.endpoint for w in leak.writes}),
            },
            fix=_fix(django),
            fingerprint=finding_fingerprint(self.id, system, pattern, endpoint, location),
        )


def _fix(django: bool) -> str:
    common = "Never cache per-user data under a shared key: put the user's id in the key, "
    if django:
        return common + (
            'e.g. cache.get_or_set(f"profile:{request.user.pk}", build, timeout=300); '
            "for a whole page, vary it on the session: @vary_on_cookie with @cache_page, "
            "or cache only the parts that are the same for everyone."
        )
    return common + (
        'e.g. r.set(f"profile:{user_id}", value, ex=300) and read the same key; '
        "or keep per-user data out of the shared cache altogether."
    )
