"""cache-candidate: the same expensive read, with the same parameters, request after request.

A query with the same statement and the same parameters that returns the same
rows to every request of an endpoint, with nothing written to its tables in
between, is a result the application could keep instead of recomputing.  Runs
that a cache already guards (a cache miss just before) are not counted: that
read has a cache in front of it.

Outbound GETs repeated across requests are ``uncached-external``'s.

What it keeps is bounded whatever the store's size, but for the reads seen
twice or more (one small summary each, however many runs):

* the writes' times (to tell whether a read's tables changed between its runs)
  go to a temporary database (:mod:`perfdoctor.detectors._spill`) once there
  are more than a few thousand, and are looked up there at the end: the same
  answer as in memory;
* the distinct reads seen only once (most parameters are new in every request)
  are kept up to ``cache_candidate_max_reads``.  Past it the oldest of them is
  forgotten for each new one: a read whose parameters come back only after that
  many other new reads is counted from its return (one run short; with
  ``cache_candidate_min_traces`` requests needed, a read repeated that far
  apart may not be found, or is found with a request fewer).  Under the cap
  the findings are the same as without it.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Sequence
from typing import Any, Optional

from perfdoctor.analysis import sampling
from perfdoctor.analysis.stats import FloorMedian
from perfdoctor.detectors import _machine, _spill, register
from perfdoctor.detectors._cache import call_site, operations
from perfdoctor.detectors._kinds import of_kind
from perfdoctor.detectors._sql import is_read, tables_of
from perfdoctor.detectors.base import Session, Summarising, finding_fingerprint
from perfdoctor.model import SERVER_KIND, Finding, Location, Severity, Trace
from perfdoctor.settings import Settings

# From this much time spent on the same result, the finding is a warning.
_WARNING_TOTAL_MS = 1000.0
# Write times kept in memory (8 bytes each) before they go to the temporary
# database: a store of today's size never gets there, and the look-ups at the end
# stay in memory.
_WRITE_TIMES_IN_MEMORY = 65_536

_WRITES_SCHEMA = ("CREATE TABLE writes (statement INTEGER, at REAL)",)


def _tallied(
    counts: dict[object, int] | None, value: object, count: int, new: object
) -> dict[object, int]:
    """Counts per value in order of first appearance (as a dict keeps them): the
    counts so far, or the one ``value`` seen ``count`` times, and ``new`` once more."""
    if counts is None:
        counts = {value: count}
    counts[new] = counts.get(new, 0) + 1
    return counts


def _most_common(counts: dict[object, int] | None, value: object) -> object:
    """The most frequent value, the first seen of equally frequent ones."""
    if counts is not None:
        return max(counts.items(), key=lambda item: item[1])[0]
    return value


class _Runs(FloorMedian):
    """One read (endpoint, shape, parameters) so far: what its finding needs,
    gathered run by run (the runs' spans and traces are not kept).

    Its durations are kept only as far as the median against the threshold needs
    (it is a :class:`FloorMedian`): a read run in every request, fast as most are,
    costs the same few bytes after a million runs as after three.  Its call sites
    and frameworks are each one value and a count, and a dict only once a second
    one comes (parameters are often new in every request).  All in one object:
    the runs of a store's reads come in no order, and each object a run touches
    is one more place in memory to fetch.
    """

    __slots__ = (
        "above_weights",
        "below_extra",
        "busy",
        "end",
        "framework",
        "framework_count",
        "frameworks",
        "last",
        "location",
        "location_count",
        "locations",
        "requests",
        "sampled",
        "start",
        "statement",
        "system",
        "total",
    )

    def __init__(self, statement: str | None, system: str | None, floor: float) -> None:
        super().__init__(floor)
        self.total = 0.0
        self.start = math.inf
        self.end = -math.inf
        self.requests = 0
        self.last: str | None = None
        # The call site (and the framework) of every run so far while there is one,
        # with how many runs; else None and the counts of each.
        self.location: Location | None = None
        self.location_count = 0
        self.locations: dict[object, int] | None = None
        self.framework: str | None = None
        self.framework_count = 0
        self.frameworks: dict[object, int] | None = None
        self.statement, self.system = statement, system
        # Requests with a machine sample, and those measured on a busy machine.
        self.sampled = 0
        self.busy = 0
        # In a sampled store, each run counts for the requests its trace stands for
        # (run --sample keeps every slow request and a share of the others: a read
        # slow only in slow requests would read slow at its median).  What the
        # weights add over one per run: below the floor, a sum; at or above it, each
        # kept value's weight, made with the first run of another weight.
        self.below_extra = 0.0
        self.above_weights: array[float] | None = None

    @classmethod
    def of(cls, once: _Once, floor: float) -> _Runs:
        duration, at, trace_id, location, framework, statement, system, busy, weight = once
        runs = cls(statement, system, floor)
        runs.add_run(duration, location, framework, at, trace_id, busy, weight)
        return runs

    def add_run(
        self,
        duration: float,
        location: Location | None,
        framework: str | None,
        at: float,
        trace_id: str,
        busy: bool | None,
        weight: float = 1.0,
    ) -> None:
        self.add(duration)
        self.weigh(duration, weight)
        self.total += duration
        if at < self.start:
            self.start = at
        if at > self.end:
            self.end = at
        if self.last != trace_id:  # a trace's runs come one after another
            self.last = trace_id
            self.requests += 1
            if busy is not None:
                self.sampled += 1
                self.busy += busy
        if location is not None:
            self.add_location(location)
        self.add_framework(framework)

    def weigh(self, duration: float, weight: float) -> None:
        """The weight of the run just added (one: nothing to do)."""
        if duration < self.floor:
            if weight != 1.0:
                self.below_extra += weight - 1.0
            return
        weights = self.above_weights
        if weights is None:
            if weight == 1.0:
                return
            above = self.above
            weights = self.above_weights = array("d", [1.0] * (len(above) - 1 if above else 0))
        weights.append(weight)

    def estimated_median(self) -> float | None:
        """:meth:`median`, or with weights the weighted median (the value at half the
        weight), None where it is below the floor."""
        if self.above_weights is None and not self.below_extra:
            return self.median()
        above = self.above or array("d")
        weights = self.above_weights or array("d", [1.0] * len(above))
        below = self.below + self.below_extra
        half = (below + sum(weights)) / 2.0
        if below >= half:
            return None
        running = below
        for value, weight in sorted(zip(above, weights)):
            running += weight
            if running >= half:
                return float(value)
        return float(max(above)) if above else None

    def add_location(self, location: Location) -> None:
        if self.locations is None:
            if not self.location_count:
                self.location, self.location_count = location, 1
                return
            if location is self.location or location == self.location:
                self.location_count += 1
                return
        self.locations = _tallied(self.locations, self.location, self.location_count, location)

    def add_framework(self, framework: str | None) -> None:
        if self.frameworks is None:
            if not self.framework_count:
                self.framework, self.framework_count = framework, 1
                return
            if framework is self.framework or framework == self.framework:
                self.framework_count += 1
                return
        self.frameworks = _tallied(self.frameworks, self.framework, self.framework_count, framework)

    def call_site(self) -> Location | None:
        # The first of equally common call sites, as most_common_location picks it.
        found = _most_common(self.locations, self.location)
        return found if isinstance(found, Location) else None

    def main_framework(self) -> str | None:
        found = _most_common(self.frameworks, self.framework)
        return found if isinstance(found, str) else None


_UNSEEN = object()

# A read seen once so far, as a tuple (most are never seen again: parameters new
# in every request), made a _Runs when it comes back: (duration, at, trace id,
# location, framework, statement, system, measured on a busy machine: None when
# the trace has no machine sample, and the trace's weight: 1 unless sampled).
_Once = tuple[
    float, float, str, Optional[Location], Optional[str], Optional[str], Optional[str],
    Optional[bool], float,
]  # fmt: skip


def _guarded(trace: Trace) -> list[float]:
    """Start times of cache misses in ``trace``: reads after one are behind a cache."""
    return [op.span.start_ms for op in operations(trace) if op.is_miss()]


class _Session(Session):
    def __init__(self, detector: CacheCandidate, settings: Settings) -> None:
        self.detector, self.settings = detector, settings
        self.runs: dict[tuple[object, ...], _Runs | _Once] = {}
        # One copy of each endpoint name, fingerprint, system and framework for
        # every read kept: each trace decodes its own, and a read kept holds them
        # for the whole analysis.
        self.strings: dict[str | None, str | None] = {}
        # (statement, system) of each write -> when it ran (ms, one clock for every
        # trace), the times not yet in the temporary database.
        self.writes: dict[tuple[str, str | None], array[float]] = {}
        self.write_times_in_memory = _WRITE_TIMES_IN_MEMORY
        self.spill = _spill.Spill(_WRITES_SCHEMA)
        # The reads seen once (tuples in ``runs``), oldest first: the keys of those
        # seen again since (now a _Runs) are skipped when the oldest is forgotten.
        self.once = 0
        self.singles: deque[tuple[object, ...]] = deque()

    def feed(self, traces: Sequence[Trace]) -> None:
        all_runs, writes, settings = self.runs, self.writes, self.settings
        floor = settings.cache_candidate_min_p50_ms
        one = self.strings.setdefault
        once, singles, cap = self.once, self.singles, settings.cache_candidate_max_reads
        for trace in traces:
            spans = of_kind(trace, "db")
            if not spans:
                continue
            offset = trace.started_at * 1000.0
            # When the trace's first cache miss started (reads from then on are
            # behind a cache); None: not looked for yet.
            guarded: float | None = None
            busy: bool | None = None
            machine_read = False
            server = trace.kind == SERVER_KIND
            name, trace_id = trace.name, trace.id
            weight = sampling.weight(trace)
            # A shape's spans share their statement object: is_read asked once a run
            # of them (the spans of a loop come one after another).
            last: object = _UNSEEN
            read = False
            for span in spans:
                statement = span.statement
                if statement is not last:
                    last = statement
                    read = is_read(statement)
                if not read:
                    if statement:
                        key = (statement, span.system)
                        times = writes.get(key)
                        if times is None:
                            times = writes[key] = array("d")
                        times.append(offset + span.start_ms)
                    continue
                digest = span.params_digest
                if server or digest is None:
                    continue
                start = span.start_ms
                if guarded is None:
                    # No cache operation (most requests): no miss to look for.
                    guarded = (
                        min(_guarded(trace), default=math.inf)
                        if of_kind(trace, "cache")
                        else math.inf
                    )
                if guarded <= start:
                    continue
                if not machine_read:
                    machine_read = True
                    sample = _machine.sample(trace)
                    busy = None if sample is None else _machine.is_busy(sample, settings)
                runs_key = (name, span.fingerprint, digest)
                seen = all_runs.get(runs_key)
                if seen is None:
                    fingerprint, framework, system = span.fingerprint, span.framework, span.system
                    new_key = (one(name, name), one(fingerprint, fingerprint), digest)
                    all_runs[new_key] = (
                        span.duration_ms, offset + start, trace_id, span.location,
                        one(framework, framework), statement, one(system, system), busy,
                        weight,
                    )  # fmt: skip
                    singles.append(new_key)
                    once += 1
                    if once > cap:
                        # Forget the oldest read still seen only once.
                        while True:
                            oldest = singles.popleft()
                            if isinstance(all_runs.get(oldest), tuple):
                                del all_runs[oldest]
                                break
                        once -= 1
                    continue
                if isinstance(seen, tuple):
                    once -= 1
                    runs = all_runs[runs_key] = _Runs.of(seen, floor)
                else:
                    runs = seen
                # _Runs.add_run, inline (most reads come back request after request).
                duration = span.duration_ms
                at = offset + start
                if duration < floor:  # FloorMedian.add, then _Runs.weigh
                    runs.below += 1
                    if duration >= runs.top_below:
                        runs.top_below = duration
                    if weight != 1.0:
                        runs.below_extra += weight - 1.0
                else:
                    if runs.above is None:
                        runs.above = array("d", (duration,))
                    else:
                        runs.above.append(duration)
                    if weight != 1.0 or runs.above_weights is not None:
                        runs.weigh(duration, weight)
                runs.total += duration
                if at < runs.start:
                    runs.start = at
                if at > runs.end:
                    runs.end = at
                if runs.last != trace_id:
                    runs.last = trace_id
                    runs.requests += 1
                    if busy is not None:
                        runs.sampled += 1
                        runs.busy += busy
                location = span.location
                if location is not None:
                    if runs.locations is None and runs.location is location:
                        runs.location_count += 1
                    else:
                        runs.add_location(location)
                framework = span.framework
                # (Equal, not the same object: each trace's shapes decode their own.)
                if runs.frameworks is None and runs.framework_count and runs.framework == framework:
                    runs.framework_count += 1
                else:
                    runs.add_framework(framework)
        self.once = once
        if len(singles) > 2 * once + 4096:
            # Most keys left are of reads seen again since: keep the others only.
            self.singles = deque(k for k in singles if isinstance(all_runs.get(k), tuple))
        if (
            writes
            and not self.spill.failed
            and sum(map(len, writes.values())) > self.write_times_in_memory
        ):
            self._spill_writes()

    def _spill_writes(self) -> None:
        """The write times to the temporary database (they stay here if it fails).
        A statement's number is its place in ``writes`` (never removed from)."""
        rows = (
            (number, at) for number, times in enumerate(self.writes.values()) for at in times
        )
        if self.spill.write((("INSERT INTO writes VALUES (?, ?)", rows),)):
            for times in self.writes.values():
                del times[:]

    def _written(self) -> list[tuple[frozenset[str], array[float], int]]:
        found = []
        for number, ((statement, system), times) in enumerate(self.writes.items()):
            tables = tables_of(statement, system)
            if tables:
                found.append((tables, times, number))
        return found

    def _changed(
        self,
        tables: frozenset[str],
        start: float,
        end: float,
        writes: list[tuple[frozenset[str], array[float], int]],
    ) -> bool:
        """Whether any of ``tables`` was written between ``start`` and ``end``."""
        spilled = []
        for written, times, number in writes:
            if tables & written:
                if any(start <= at <= end for at in times):
                    return True
                spilled.append(number)
        if not self.spill.used:
            return False
        query = "SELECT 1 FROM writes WHERE statement = ? AND at BETWEEN ? AND ? LIMIT 1"
        return any(any(True for _ in self.spill.rows(query, (n, start, end))) for n in spilled)

    def _times_back(self) -> None:
        """The spilled write times back in memory (the database could not answer)."""
        keys = list(self.writes)
        for number, at in self.spill.rows("SELECT statement, at FROM writes"):
            self.writes[keys[number]].append(at)
        self.spill.close()
        self.spill.failed = True
        self.spill.used = False

    def findings(self) -> list[Finding]:
        try:
            if self.spill.used:
                # One look-up per candidate: by statement and time.
                self.spill.execute("CREATE INDEX IF NOT EXISTS at ON writes (statement, at)")
            return self._findings()
        except _spill.ERRORS:
            self._times_back()
            return self._findings()
        finally:
            self.spill.close()

    def _findings(self) -> list[Finding]:
        settings = self.settings
        writes: list[tuple[frozenset[str], array[float], int]] | None = None
        found = []
        for (endpoint, fingerprint, _params), seen in self.runs.items():
            if isinstance(seen, tuple):  # one run
                if settings.cache_candidate_min_traces > 1:
                    continue
                seen = _Runs.of(seen, settings.cache_candidate_min_p50_ms)
            runs = seen
            if runs.requests < settings.cache_candidate_min_traces:
                continue
            p50 = runs.estimated_median()
            if p50 is None or p50 < settings.cache_candidate_min_p50_ms:
                continue
            tables = tables_of(runs.statement or "", runs.system)
            if writes is None:
                writes = self._written()
            if self._changed(tables, runs.start, runs.end, writes):
                continue  # the data changed between runs: a cache would need invalidating
            found.append(
                self.detector._finding(str(endpoint), fingerprint, runs, p50, tables, settings)
            )
        return found


@register
class CacheCandidate(Summarising):
    id = "cache-candidate"
    description = "the same expensive read repeated across requests with no cache in front"

    def session(self, settings: Settings) -> Session:
        return _Session(self, settings)

    def _finding(
        self,
        endpoint: str,
        fingerprint: object,
        runs: _Runs,
        p50: float,
        tables: frozenset[str],
        settings: Settings,
    ) -> Finding:
        requests = runs.requests
        total = runs.total
        location = runs.call_site()
        framework = runs.main_framework()
        ttl = settings.cache_candidate_suggested_ttl_s
        severity: Severity = "warning" if total >= _WARNING_TOTAL_MS else "info"
        statement, system = runs.statement, runs.system
        # Its time is what made it a candidate: on a busy machine that time is partly
        # the machine's (healthchecks' 0.5 ms user lookup read 10 ms under load).
        busy = runs.sampled > 0 and runs.busy >= settings.machine_busy_min_share * runs.sampled
        extra: dict[str, Any] = {}
        if busy:
            extra["busy_machine"] = (
                f"measured while the machine was busy ({runs.busy} of {runs.sampled} "
                "requests): measure again on a quiet machine before acting"
            )
        return Finding(
            id=self.id,
            severity=severity,
            title=(
                f"Cache candidate: the same {p50:.0f} ms query with the same parameters ran in "
                f"{requests} requests" + (_machine.TITLE_SUFFIX if busy else "")
            ),
            endpoint=endpoint,
            location=location,
            evidence={
                "runs": len(runs),
                "traces": requests,
                "requests_affected": requests,
                "total_ms_all_requests": round(total, 3),
                "p50_ms": round(p50, 3),
                "statement": statement,
                "system": system,
                "tables": sorted(tables),
                "writes_to_tables": 0,
                "suggested_ttl_s": ttl,
                "call_site": call_site(location),
                **extra,
            },
            fix=(_machine.FIX_PREFIX if busy else "") + _fix(framework, ttl),
            fingerprint=finding_fingerprint(self.id, endpoint, fingerprint, location),
        )


def _fix(framework: str | None, ttl: int) -> str:
    if framework == "django":
        first = (
            f'Cache the result: cache.get_or_set("<name>:<parameters>", lambda: '
            f"list(queryset), timeout={ttl}) with django.core.cache, and delete the key "
            "when the rows change (a post_save signal)."
        )
    else:
        first = (
            f"Cache the result with a TTL: in Redis, r.set(key, serialized, ex={ttl}) after a "
            "miss and r.get(key) first (key built from the query's parameters)."
        )
    return first + (
        " For data that does not change while the process runs (reference tables, "
        "settings), functools.lru_cache on the function that loads it is enough."
    )
