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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Optional

from perfdoctor.detectors import _spill, register
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


# One kept write or suspicious hit, as a row (in memory or in the temporary
# database, the same columns): (seq, system, key digest, at_ms, request, write,
# user, value, key pattern, location, endpoint, trace id).  seq: the order it was
# kept in, so that equal times keep that order, as a stable sort does; request:
# the trace's number in the session (the same request or not); system, key
# pattern, location and endpoint: ids in ``_Session.objects``.
_Row = tuple[int, int, str, float, int, bool, Optional[str], object, int, int, int, str]

_SCHEMA = (
    # No column types (but the rowid): a value digest is stored as it was decoded.
    "CREATE TABLE ops (seq INTEGER PRIMARY KEY, system, digest, at, request, write, user,"
    " value, key, location, endpoint, trace)",
    "CREATE TABLE vals (system, key, user, value, PRIMARY KEY (system, key, user, value))"
    " WITHOUT ROWID",
)
_INSERT_OPS = "INSERT INTO ops VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_VALS = "INSERT OR IGNORE INTO vals VALUES (?, ?, ?, ?)"
# Each entry's operations in time order, the entries in the order they were first
# seen, as the in-memory walk takes them.
_IN_ORDER = (
    "SELECT o.seq, o.system, o.digest, o.at, o.request, o.write, o.user, o.value, o.key,"
    " o.location, o.endpoint, o.trace FROM ops AS o"
    " JOIN (SELECT system, digest, MIN(seq) AS first FROM ops GROUP BY system, digest) AS e"
    " ON o.system = e.system AND o.digest = e.digest"
    " ORDER BY e.first, o.at, o.seq"
)


@dataclass
class _Leak:
    """Reads of one key pattern, in one view, that returned another user's value.
    Its requests and users (as many as the traffic has) are counted apart, in
    a :class:`perfdoctor.detectors._spill.Distinct` (``2 * number`` and
    ``2 * number + 1``)."""

    number: int
    reads: int = 0
    write_locations: set[int] = field(default_factory=set)
    writer_endpoints: set[int] = field(default_factory=set)
    requests: int = 0
    users: int = 0


class _Session(Session):
    """Per cache entry, its writes and the hits that could be another user's
    value (a hit with no logged-in reader or no value digest never is); per key
    pattern, the values each user wrote.

    Both grow with the traffic, and the entries' operations can only be put in
    time order once every chunk is read: they go to a temporary database
    (:mod:`perfdoctor.detectors._spill`), a chunk at a time, and come back in
    order at the end.  What stays in memory is bounded by the code: the systems,
    key patterns, endpoints and call sites, each once, by id.  If the database
    cannot be written, the rows stay in memory (and those written come back).
    """

    def __init__(self, detector: CacheSharedKey, settings: Settings) -> None:
        self.detector, self.settings = detector, settings
        self.ids: dict[object, int] = {}
        self.objects: list[object] = []
        self.seen = 0
        self.seq = 0
        # This chunk's rows, until written to the database; all of them if it fails.
        self.rows: list[_Row] = []
        self.new_values: list[tuple[int, int, str, object]] = []
        # (system, key pattern) -> user -> the value digests they wrote.
        self.values: dict[tuple[int, int], dict[str, set[object]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self.spill = _spill.Spill(_SCHEMA)
        self.found: list[Finding] | None = None

    def _id(self, value: object) -> int:
        found = self.ids.get(value)
        if found is None:
            found = self.ids[value] = len(self.objects)
            self.objects.append(value)
        return found

    def feed(self, traces: Sequence[Trace]) -> None:
        rows, new_values, ident = self.rows, self.new_values, self._id
        for trace in traces:
            self.seen += 1
            user = _user(trace)
            for op in operations(trace):
                write = op.is_write()
                value = op.attrs.get("value_digest")
                if write and user is not None and value:
                    new_values.append((ident(op.system), ident(op.key), user, value))
                digest = op.key_digest
                if not digest or not (write or (op.is_hit() and user and value)):
                    continue
                self.seq += 1
                rows.append(
                    (
                        self.seq, ident(op.system), digest, op.at_ms, self.seen, write, user,
                        value, ident(op.key), ident(op.location), ident(str(trace.name)), trace.id,
                    )
                )  # fmt: skip
        self._write()

    def _write(self) -> None:
        """This chunk's rows to the database, or, if it cannot take them, every
        row kept so far back in memory."""
        if self.spill.failed:
            self._keep_values()
            return
        if not (self.rows or self.new_values):
            return
        if self.spill.write(((_INSERT_OPS, self.rows), (_INSERT_VALS, self.new_values))):
            self.rows.clear()
            self.new_values.clear()
            return
        # A write that failed half-way may have left part of its rows: only the
        # ones kept before them come back.
        first = self.rows[0][0] if self.rows else self.seq + 1
        query = "SELECT * FROM ops WHERE seq < ? ORDER BY seq"
        self.rows[:0] = [tuple(row) for row in self.spill.rows(query, (first,))]
        self._values_back()
        self.spill.close()
        self._keep_values()

    def _values_back(self) -> None:
        for system, key, user, value in self.spill.rows("SELECT * FROM vals"):
            self.values[(system, key)][user].add(value)

    def _keep_values(self) -> None:
        for system, key, user, value in self.new_values:
            self.values[(system, key)][user].add(value)
        self.new_values.clear()

    def _in_order(self) -> Iterator[_Row]:
        if not self.spill.used or self.spill.failed:
            # Each entry's rows in the order kept, sorted by time (a stable sort).
            by_entry: dict[tuple[int, str], list[_Row]] = defaultdict(list)
            for row in self.rows:
                by_entry[(row[1], row[2])].append(row)
            for ops in by_entry.values():
                yield from sorted(ops, key=itemgetter(3))
            return
        # Without it the join scans every operation once per entry: 0.22 s for the
        # bakery demo's 26k operations, and entries times operations past that.
        self.spill.execute("CREATE INDEX IF NOT EXISTS ops_entry ON ops (system, digest)")
        for row in self.spill.rows(_IN_ORDER):
            yield row

    def leaks(self) -> dict[tuple[int, int, int, int], _Leak]:
        leaks: dict[tuple[int, int, int, int], _Leak] = {}
        distinct = _spill.Distinct(self.spill.opener)
        last_write: _Row | None = None
        entry: tuple[int, str] | None = None
        for op in self._in_order():
            (_, system, digest, _, request, write, reader, value, key, location, endpoint,
             trace_id) = op  # fmt: skip
            if entry != (system, digest):
                entry, last_write = (system, digest), None
            if write:
                last_write = op
                continue
            if last_write is None or last_write[4] == request:
                continue
            writer = last_write[6]
            if writer is None or reader is None or writer == reader or value is None:
                continue
            if value != last_write[7]:
                continue
            leak = leaks.get((system, key, endpoint, location))
            if leak is None:
                leak = leaks[(system, key, endpoint, location)] = _Leak(len(leaks))
            leak.reads += 1
            leak.write_locations.add(last_write[9])
            leak.writer_endpoints.add(last_write[10])
            distinct.add(2 * leak.number, trace_id)
            distinct.add(2 * leak.number + 1, writer)
            distinct.add(2 * leak.number + 1, reader)
        if leaks:
            counts = distinct.counts()
            for leak in leaks.values():
                leak.requests = counts[2 * leak.number]
                leak.users = counts[2 * leak.number + 1]
        return leaks

    def differ(self, system: int, key: int) -> bool:
        """Whether different users wrote different values under (system, key pattern)."""
        if not self.spill.used or self.spill.failed:
            by_user = self.values.get((system, key), {})
            seen = [frozenset(v) for v in by_user.values()]
            return len(by_user) >= 2 and len(set(seen)) >= 2
        # One user's values at a time, against the first user's.
        first: frozenset[object] | None = None
        user: str | None = None
        values: set[object] = set()
        query = "SELECT user, value FROM vals WHERE system = ? AND key = ? ORDER BY user"
        for who, value in self.spill.rows(query, (system, key)):
            if who != user and user is not None:
                if first is None:
                    first = frozenset(values)
                elif frozenset(values) != first:
                    return True
                values = set()
            user = who
            values.add(value)
        return first is not None and frozenset(values) != first

    def findings(self) -> list[Finding]:
        if self.found is not None:
            return list(self.found)
        try:
            self._write()
            try:
                leaks = self.leaks()
            except _spill.ERRORS:
                # The database could not sort them (no room for its sort): in memory.
                self._back_in_memory()
                leaks = self.leaks()
            self.found = self._found(leaks)
            return list(self.found)
        finally:
            self.spill.close()

    def _back_in_memory(self) -> None:
        self.rows = [tuple(row) for row in self.spill.rows("SELECT * FROM ops ORDER BY seq")]
        self._values_back()
        self.spill.failed = True

    def _found(self, leaks: dict[tuple[int, int, int, int], _Leak]) -> list[Finding]:
        if not leaks:
            return []
        objects = self.objects
        found = []
        differ: dict[tuple[int, int], bool] = {}
        for (system_id, key_id, endpoint_id, location_id), leak in leaks.items():
            if leak.users < self.settings.cache_shared_key_min_users:
                continue
            system, pattern, endpoint = objects[system_id], objects[key_id], objects[endpoint_id]
            personal = names_personal_data(str(pattern)) or names_personal_data(str(endpoint))
            if not personal:
                if (system_id, key_id) not in differ:
                    try:
                        differ[(system_id, key_id)] = self.differ(system_id, key_id)
                    except _spill.ERRORS:  # the leaks are found: their values only
                        self._values_back()
                        self.spill.failed = True
                        differ[(system_id, key_id)] = self.differ(system_id, key_id)
                if not differ[(system_id, key_id)]:
                    continue
            location = objects[location_id]
            loc = location if isinstance(location, Location) else None
            found.append(
                self.detector._finding(
                    system,
                    pattern,
                    str(endpoint),
                    loc,
                    leak,
                    write_locations=[objects[i] for i in leak.write_locations],
                    writer_endpoints=[str(objects[i]) for i in leak.writer_endpoints],
                )
            )
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
        write_locations: list[object],
        writer_endpoints: list[str],
    ) -> Finding:
        write_sites = sorted(
            {s for s in (call_site(w) for w in write_locations if isinstance(w, Location)) if s}
        )
        django = system == "django-cache"
        return Finding(
            id=self.id,
            severity="error",
            title=(
                f"Cache key {pattern!s} has no user part: {leak.users} users were served "
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
                "users": leak.users,
                "reads_of_another_users_value": leak.reads,
                "requests_affected": leak.requests,
                "writer_endpoints": sorted(set(writer_endpoints)),
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
