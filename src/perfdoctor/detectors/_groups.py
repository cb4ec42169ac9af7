"""Grouping of db spans shared by the query detectors."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from operator import attrgetter

from perfdoctor.analysis.pertrace import PerTrace
from perfdoctor.analysis.shapes import shape_values, shapes
from perfdoctor.detectors._kinds import of_kind, reads
from perfdoctor.detectors._loops import enclosing_loop
from perfdoctor.detectors._requests import request_of, request_windows
from perfdoctor.detectors._sql import is_read
from perfdoctor.model import Location, Span, Trace
from perfdoctor.settings import Settings
from perfdoctor.triggers import template_line


@dataclass
class SpanGroup:
    key: tuple[object, ...]
    spans: list[Span] = field(default_factory=list)
    # total_ms for the first _summed[0] spans: read several times per group (the
    # thresholds, the finding, a sequence's sum); spans are only ever appended.
    _summed: tuple[int, float] = field(default=(0, 0.0), repr=False, compare=False)
    # (len(spans), start, end) of the bounds, as _summed.
    _bounds: tuple[int, float, float] = field(default=(0, 0.0, 0.0), repr=False, compare=False)

    @property
    def count(self) -> int:
        return len(self.spans)

    @property
    def total_ms(self) -> float:
        spans = self.spans
        if self._summed[0] != len(spans):
            # (map over attrgetter: the same sum in the same order, without a
            # generator frame per span.)
            self._summed = (len(spans), sum(map(_duration, spans)))
        return self._summed[1]

    @property
    def first(self) -> Span:
        return self.spans[0]

    @property
    def loop_ms(self) -> float:
        """Wall time from the first query's start to the last one's end: the loop's
        cost as the request felt it, ORM and Python between the queries included."""
        start, end = self.bounds
        return end - start

    @property
    def bounds(self) -> tuple[float, float]:
        """(the first query's start, the last one's end)."""
        spans = self.spans
        if self._bounds[0] != len(spans):
            first = spans[0]
            start = first.start_ms
            end = start + first.duration_ms
            for span in spans:
                at = span.start_ms
                if at < start:
                    start = at
                if at + span.duration_ms > end:
                    end = at + span.duration_ms
            self._bounds = (len(spans), start, end)
        return self._bounds[1], self._bounds[2]


def loop_groups(trace: Trace, least: int = 1) -> list[SpanGroup]:
    """Read queries that one loop may have repeated, in order of first appearance:
    grouped by request (see :mod:`perfdoctor.detectors._requests`), query shape
    and call site, then split by the way the call site was reached.

    A helper line reached from several separate lines of its caller (``get_user(1)``,
    then ``get_user(2)`` from the next line) ran once per line, not per row: its runs
    are kept apart by their stacks.  They stay together when every run came the same
    way, or when a loop encloses a frame they all share (recursion, a loop in the
    helper itself), the only way the same frames can repeat.

    ``least``: only groups of at least that many queries (splitting a group makes
    smaller ones), without building the others: most queries of a request run once.
    """
    windows = request_windows(trace)
    # Keys whose runs may come from several stacks (see _by_caller); a key that is
    # one shape's runs has one stack list.
    mixed: set[tuple[object, ...]] | None = None
    if windows:
        runs = _runs(trace, windows)
    else:
        runs, mixed = _runs_by_shape(trace)
    found: list[SpanGroup] = []
    for key, spans in runs.items():
        if len(spans) >= least:
            if mixed is not None and key not in mixed:
                found.append(SpanGroup(key, spans))
            else:
                found.extend(_by_caller(SpanGroup(key, spans)))
    return found


def _runs(
    trace: Trace, windows: list[tuple[float, float]]
) -> dict[tuple[object, ...], list[Span]]:
    """The reads of each (request, query shape, call site), in order of first
    appearance (a trace of several requests: ``windows``)."""
    runs: dict[tuple[object, ...], list[Span]] = {}
    for span in reads(trace):
        key = _run_key(request_of(span, windows), span)
        spans = runs.get(key)
        if spans is None:
            runs[key] = [span]
        else:
            spans.append(span)
    return runs


def _run_key(request: int | None, span: Span) -> tuple[object, ...]:
    """The runs ``span`` is one of: (request, query shape, call site).  It reads only
    fields a shape's spans share (see :mod:`perfdoctor.analysis.shapes`), so that a
    shape's spans are one run."""
    loc = span.location
    if loc is None:
        key: tuple[object, ...] = (request, span.fingerprint, None, None)
    else:
        key = (request, span.fingerprint, loc.path, loc.line)
    trigger = span.attrs.get("trigger")
    if trigger is not None:
        # Every load a template makes has the same user frame (the view's render
        # call, or none under a library's view): a page's hero image and each
        # card's image in three included templates are four lines, not one loop
        # of them all.  (The trigger is in the attrs a shape's spans share.)
        line = template_line(trigger, own=True)
        if line is not None:
            key = (*key, *line)
    return key


def _read_key(first: Span) -> tuple[object, ...] | None:
    """The runs key of a read shape (the same for every trace of its shapes text),
    None for a shape that is no read."""
    if first.kind != "db" or not is_read(first.statement):
        return None
    return _run_key(None, first)


def _runs_by_shape(
    trace: Trace,
) -> tuple[dict[tuple[object, ...], list[Span]], set[tuple[object, ...]]]:
    """:func:`_runs` of a trace that is one request, a shape at a time: a shape's
    spans share their query shape and call site, so most keys are one shape's
    list as it is (shared, as the groups' spans are never changed); and the keys
    of several shapes' spans."""
    runs: dict[tuple[object, ...], list[Span]] = {}
    mixed: set[tuple[object, ...]] = set()  # keys of several shapes
    keyed: list[tuple[tuple[object, ...], list[Span]]] = []
    for spans, key in zip(*shape_values(trace, _read_key, _read_key)):
        if key is None:
            continue
        keyed.append((key, spans))
        if key in runs:
            mixed.add(key)
        else:
            runs[key] = spans
    if mixed:
        # Spans of several shapes (another connection, other attrs) in trace order;
        # each span's key is its shape's, made above.
        key_of = {id(span): key for key, spans in keyed if key in mixed for span in spans}
        together: dict[tuple[object, ...], list[Span]] = {}
        for span in reads(trace):
            found = key_of.get(id(span))
            if found is not None:
                same = together.get(found)
                if same is None:
                    together[found] = [span]
                else:
                    same.append(span)
        runs.update(together)
    return runs, mixed


def _frames(span: Span) -> tuple[tuple[str, int], ...]:
    return tuple((frame.path, frame.line) for frame in span.stack)


def _by_caller(group: SpanGroup) -> list[SpanGroup]:
    spans = group.spans
    stack = spans[0].stack
    # Spans of one call site share their stack list (the store decodes each once):
    # one list for all, one way.
    if all(span.stack is stack for span in spans):
        return [group]
    ways: dict[tuple[tuple[str, int], ...], list[Span]] = {}
    # Spans of one call site share their stack list (the store decodes each once).
    frames: dict[int, tuple[tuple[str, int], ...]] = {}
    for span in group.spans:
        way = frames.get(id(span.stack))
        if way is None:
            way = frames[id(span.stack)] = _frames(span)
        ways.setdefault(way, []).append(span)
    if len(ways) == 1:
        return [group]
    stacks = list(ways)
    shared = 0  # frames, innermost first, that every run came through
    while all(len(s) > shared for s in stacks) and len({s[shared] for s in stacks}) == 1:
        shared += 1
    if any(enclosing_loop(frame) for frame in group.first.stack[:shared]):
        return [group]
    return [SpanGroup((*group.key, i), spans) for i, spans in enumerate(ways.values())]


def n_plus_one_groups(trace: Trace, settings: Settings) -> list[SpanGroup]:
    """Groups that qualify as N+1: one shape from one line, repeated in one request
    by a loop (:func:`loop_groups`), with varying parameters.  Computed once per
    trace of a chunk: n-plus-one-query and duplicate-query both ask (and only read)."""
    if len(of_kind(trace, "db")) < _least(settings):
        return []  # too few queries for any group to qualify (a fifth of requests)
    return _qualifying(trace, settings)


def _least(settings: Settings) -> int:
    """Fewer runs than either repeat threshold never pass :func:`enough_repeats`."""
    return min(settings.n_plus_one_min_repeats, settings.n_plus_one_proven_min_repeats)


def _n_plus_one_groups(trace: Trace, settings: Settings) -> list[SpanGroup]:
    found = []
    for group in loop_groups(trace, _least(settings)):
        if group.total_ms < settings.n_plus_one_min_total_ms:
            continue
        if not _varies(group.spans):
            continue  # the very same query every time is a duplicate, not an N+1
        if paginated(group.spans):
            continue  # pages of one list, each many rows: batching, not a query per row
        if enough_repeats(trace, group, settings):
            found.append(group)
    return found


_qualifying: PerTrace[list[SpanGroup]] = PerTrace(_n_plus_one_groups)


def enough_repeats(trace: Trace, group: SpanGroup, settings: Settings) -> bool:
    """``n_plus_one_min_repeats``, or fewer (down to ``n_plus_one_proven_min_repeats``)
    when the parent query fetched at least as many rows as the loop ran queries:
    the shape proves the loop walks those rows."""
    if group.count >= settings.n_plus_one_min_repeats:
        return True
    if group.count < settings.n_plus_one_proven_min_repeats:
        return False
    parent = parent_span(trace, group.first, group.count)
    return parent is not None and parent.rows is not None and parent.rows >= group.count


def _varies(spans: list[Span]) -> bool:
    """Whether the runs had two parameter digests or more (the first run that
    differs from the first ends the look: most differ at once)."""
    first = spans[0].params_digest
    return any(span.params_digest != first for span in spans)


def paginated(spans: list[Span]) -> bool:
    """Each run reads another page (its OFFSET differs): a paged walk of one list."""
    offsets = set()
    for span in spans:
        offset = span.attrs.get("offset")
        if offset is None or offset in offsets:
            return False  # a run without OFFSET, or the same page again
        offsets.add(offset)
    return True


def parent_span(trace: Trace, child: Span, repeats: int = 0) -> Span | None:
    """The query that fetched the rows the loop walks: the last read before it, in the
    same request, that is not itself repeated (a second N+1 in the same loop is a
    sibling, not the parent), or that ran at most half as often as the child (a
    list read again for a second loop over it).

    With ``repeats`` (how many times the loop ran the child), a read that returned at
    least that many rows over its runs wins over a later one-row read: serializers
    and templates look up one object once inside the loop (``request.user.profile``),
    and that lookup is no more the loop's list than the list is.
    """
    windows, spans, shapes = _db_spans(trace)
    if windows:
        request = request_of(child, windows)
        spans = [
            s
            for s in trace.spans
            if s.kind == "db" and (s is child or request_of(s, windows) == request)
        ]
        shapes = _shape_counts(spans)
    before: Span | None = None
    listed: Span | None = None
    # A later list whose rows the loop ran two or three such queries for each
    # (Wagtail's renditions: a lookup, then the same query again in get_or_create).
    shared: Span | None = None
    fallback: Span | None = None
    # A query that loaded one row per run, as many runs as the child's: each row
    # of the loop fetched on its own (search results read back by id), so the
    # child's rows hang off that row, not off whatever list came before the loop.
    # The nearest of it and ``shared`` wins.
    one_by_one: Span | None = None
    for span in spans:
        if span is child:
            break
        if span.fingerprint != child.fingerprint and is_read(span.statement):
            fallback = span
            runs = shapes[span.fingerprint]
            # The first such of the loop is the row itself; the next ones (each
            # product's one stock record) are its siblings.
            if one_by_one is None and listed is None and runs == repeats and span.rows == 1:
                one_by_one, shared = span, None
            # A list read again for a second loop over it (a menu drawn twice on a
            # page) ran far fewer times than the child: a sibling runs once a row.
            if runs == 1 or (repeats and 2 * runs <= repeats):
                before = span
                rows = span.rows
                if repeats and rows is not None:
                    if rows * runs >= repeats:
                        listed, shared, one_by_one = span, None, None
                    elif rows >= 2 and repeats in (2 * rows * runs, 3 * rows * runs):
                        shared, one_by_one = span, None
    return shared or listed or one_by_one or before or fallback


def _shape_counts(spans: list[Span]) -> dict[str | None, int]:
    return Counter(map(_fingerprint, spans))  # counted in C


_fingerprint = attrgetter("fingerprint")
_duration = attrgetter("duration_ms")


def _trace_db_spans(
    trace: Trace,
) -> tuple[list[tuple[float, float]], list[Span], dict[str | None, int]]:
    """The request windows, and the db spans and runs per shape of a trace that
    is one request (every N+1 group of the trace asks for its parent)."""
    windows = request_windows(trace)
    if windows:
        return windows, [], {}
    # Runs per query shape counted a shape's spans at a time (they share it).
    counts: dict[str | None, int] = {}
    for runs in shapes(trace):
        first = runs[0]
        if first.kind == "db":
            fingerprint = first.fingerprint
            counts[fingerprint] = counts.get(fingerprint, 0) + len(runs)
    return windows, of_kind(trace, "db"), counts


_db_spans = PerTrace(_trace_db_spans)


def most_common_location(spans: list[Span]) -> Location | None:
    counts: dict[Location, int] = defaultdict(int)
    for span in spans:
        if span.location is not None:
            counts[span.location] += 1
    if not counts:
        return None
    return max(counts.items(), key=lambda item: item[1])[0]
