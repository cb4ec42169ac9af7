"""How a trace's spans are stored: one JSON value per trace, ``traces.spans``.

Since schema 4 a value holds each distinct *shape* of span once, and a short row
per span that names its shape::

    {"shapes": [[kind, framework, system, fingerprint, connection_id, stack_id, attrs], ...],
     "spans": [[shape, start_us, duration_us, params_digest, rows], ...]}

The queries of an N+1 loop differ only in their times, parameters digest and
rows: their kind, statement, connection, call stack and attributes are written
once per trace instead of once per query.  Times are whole microseconds from
the trace's start (an end is rounded, not a duration, so spans that do not
overlap never appear to).  Trailing nulls of a shape or a row are left out;
attrs is a JSON object.  ``benchmarks/store_size.py`` measures the result
(about a quarter of schema 3's bytes per span; RESULTS.md).

Schema 3 stored an array of full rows (:data:`SPAN_FIELDS`, times as float
milliseconds, attrs as a JSON string).  Readers accept both, one trace at a
time, so a store migrated while an older perfdoctor still wrote to it reads
whole.  The ``spans`` view lays either out as schema 3's table.

This module is imported inside the user's app: standard library only.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from perfdoctor.model import Location, Span

# The columns of the ``spans`` view (and schema 3's stored row), in order.
SPAN_FIELDS = (
    "kind",
    "start_ms",
    "duration_ms",
    "framework",
    "system",
    "fingerprint",
    "params_digest",
    "rows",
    "connection_id",
    "stack_id",
    "attrs",
)
SHAPE_FIELDS = ("kind", "framework", "system", "fingerprint", "connection_id", "stack_id", "attrs")
ROW_FIELDS = ("shape", "start_us", "duration_us", "params_digest", "rows")

# Compact, and strict: NaN is not JSON to SQLite, and one in a trace's value would
# make every query of the spans view fail.
_dumps = json.JSONEncoder(separators=(",", ":"), default=str, allow_nan=False).encode
dumps = _dumps


def attrs_json(attrs: dict[str, Any]) -> str | None:
    """Attributes as stored: compact JSON, None for none."""
    if not attrs:
        return None
    try:
        return _dumps(attrs)
    except ValueError:  # a NaN or an infinity somewhere
        return _dumps(_finite(attrs))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def micros(start: float, duration: float, scale: float) -> tuple[int, int]:
    """(start, duration) in whole µs from times in seconds (scale 1e6) or ms (1e3).

    The end is rounded rather than the duration: rounding keeps order, so a span
    that ended before the next one started still does.
    """
    start_us = round(start * scale)
    return start_us, round((start + duration) * scale) - start_us


class SpanTable:
    """One trace's spans, built row by row into their stored JSON."""

    __slots__ = ("_index", "_rows", "_shapes")

    def __init__(self) -> None:
        self._index: dict[tuple[Any, ...], int] = {}
        self._shapes: list[str] = []
        self._rows: list[list[Any]] = []

    def add(
        self,
        kind: str,
        start_us: int,
        duration_us: int,
        framework: str | None,
        system: str | None,
        fingerprint: str | None,
        params_digest: str | None,
        rows: int | None,
        connection_id: int | None,
        stack_id: str | None,
        attrs: str | None,
    ) -> None:
        """One span; ``attrs`` as :func:`attrs_json` gives it."""
        key = (kind, framework, system, fingerprint, connection_id, stack_id, attrs)
        shape = self._index.get(key)
        if shape is None:
            shape = self._index[key] = len(self._shapes)
            self._shapes.append(_shape_json(key))
        if rows is not None:
            self._rows.append([shape, start_us, duration_us, params_digest, rows])
        elif params_digest is not None:
            self._rows.append([shape, start_us, duration_us, params_digest])
        else:
            self._rows.append([shape, start_us, duration_us])

    def shape(
        self,
        kind: str,
        framework: str | None,
        system: str | None,
        fingerprint: str | None,
        connection_id: int | None,
        stack_id: str | None,
        attrs: str | None,
    ) -> int:
        """The index of a shape (added if new), for rows appended to :meth:`rows`."""
        key = (kind, framework, system, fingerprint, connection_id, stack_id, attrs)
        shape = self._index.get(key)
        if shape is None:
            shape = self._index[key] = len(self._shapes)
            self._shapes.append(_shape_json(key))
        return shape

    def __len__(self) -> int:
        return len(self._rows)

    def json(self) -> str:
        return f'{{"shapes":[{",".join(self._shapes)}],"spans":{_dumps(self._rows)}}}'

    def json_of(self, rows: list[str]) -> str:
        """The value with rows a writer encoded itself instead of :meth:`add`ing them
        (the recorder's encoder, fewer steps per span): each the compact JSON array
        :meth:`add` would have made of it, shapes from :meth:`shape`."""
        return f'{{"shapes":[{",".join(self._shapes)}],"spans":[{",".join(rows)}]}}'


# A shape's JSON by its key: an app's traces have the same few shapes again and
# again (the recorder encoded each anew in every trace, 6-8 JSON encodings a
# request of a list endpoint).
@functools.lru_cache(maxsize=20_000)
def _shape_json(key: tuple[Any, ...]) -> str:
    attrs = key[6]
    if attrs is not None:  # already JSON: spliced in, not encoded again
        return f"{_dumps(list(key[:6]))[:-1]},{attrs}]"
    values = list(key[:6])
    while values and values[-1] is None:
        values.pop()
    return _dumps(values)


def from_schema3(text: str) -> str:
    """A schema-3 spans value in this schema's form (the 3 -> 4 migration)."""
    table = SpanTable()
    for row in json.loads(text):
        (kind, start_ms, duration_ms, framework, system, fingerprint, digest, rows, conn) = row[:9]
        start_us, duration_us = micros(start_ms or 0.0, duration_ms or 0.0, 1e3)
        attrs = json.loads(row[10]) if row[10] else None
        table.add(
            kind, start_us, duration_us, framework, system, fingerprint, digest, rows, conn,
            row[9], attrs_json(attrs) if attrs else None,
        )
    return table.json()


# --------------------------------------------------------------------------- reading

# json.loads' own scanner, called without json.loads' Python around it (a decode(),
# a raw_decode() and two whitespace matches per call: 0.7 us, twice per trace read).
# (scan_once is set in JSONDecoder.__init__; typeshed does not list it.)
_scan: Callable[[str | bytes, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def loads(text: str | bytes) -> Any:
    """``json.loads(text)`` of a value as the store writes them (no whitespace
    around it); anything else goes through json.loads itself."""
    try:
        value, end = _scan(text, 0)
    except (StopIteration, TypeError):  # leading whitespace, nothing, bytes
        return json.loads(text)
    if end != len(text):  # trailing whitespace, or more after the value
        return json.loads(text)
    return value


_NO_STACK: list[Location] = []


class ShapedSpans(list[Span]):
    """A trace's spans as decoded from a stored value, with the spans of each stored
    shape also listed apart (``shapes``, in order of each shape's first span), and
    the spans of each kind (``kinds``, in trace order).

    Spans of one shape share their kind, framework, system, statement, fingerprint,
    connection, call stack and location (the same objects) and equal attrs: a
    detector that asks a question of those fields asks it once per shape
    (:mod:`perfdoctor.analysis.shapes`), not once per span.  ``size`` is the
    length the shapes were listed for: a list changed since is read span by span.
    """

    __slots__ = ("family", "kinds", "places", "shapes", "size")

    shapes: list[list[Span]]
    kinds: dict[str, list[Span]]
    size: int
    family: ShapeFamily | None
    # With a family: the place of each listed shape among the family's shapes.
    places: list[int]

    def __init__(self, spans: Iterable[Span] = ()) -> None:
        super().__init__(spans)
        # Not listed (yet): a copy made as lists are (copy, dataclasses.asdict) is
        # read span by span.
        self.shapes, self.kinds, self.size = [], {}, -1
        self.family = None
        self.places = []


class ShapeFamily:
    """The shapes of every trace a read decoded from one shapes text, whatever their
    connection ids: what a detector's screen asks of a statement, a call site or the
    attrs is answered once for them all (:func:`perfdoctor.analysis.shapes.screened`),
    not once per trace.  ``answers``: each screen's answer, by the screen's key."""

    __slots__ = ("_firsts", "answers", "facts", "values")

    def __init__(self, facts: list[ShapeFacts]) -> None:
        self.facts = facts
        self.answers: dict[object, bool] = {}
        # What a reader works out of each shape, by the reader's key: a value per
        # shape, in the family's order (see ShapedSpans.places).
        self.values: dict[object, list[Any]] = {}
        self._firsts: list[Span] | None = None

    def firsts(self) -> list[Span]:
        """A span of each shape, with what the shape's spans share (times zero, no
        parameters or rows): every shape of the text, those a trace left unused too."""
        if self._firsts is None:
            self._firsts = [
                Span(
                    kind=kind,
                    start_ms=0.0,
                    duration_ms=0.0,
                    location=location,
                    stack=stack,
                    framework=framework,
                    system=system,
                    statement=statement,
                    fingerprint=fingerprint,
                    connection_id=conn,
                    attrs={} if not attrs else attrs if type(attrs) is dict else dict(attrs),
                )
                for kind, location, stack, framework, system, statement, fingerprint, conn, attrs
                in self.facts
            ]  # fmt: skip
        return self._firsts


_PAD: list[Any] = [None] * len(SHAPE_FIELDS)
_ROW_SIZE = len(ROW_FIELDS)


def decode(
    text: str, stacks: dict[str, list[Location]], statements: dict[str, str]
) -> list[Span]:
    """A stored spans value (either schema) as model spans, as they are (the
    pytest plugin reads what capture has just encoded; a store's rows are read
    through :func:`decode_checked`)."""
    return _decode(text, stacks, statements, False)[0]


# The types a span's fields may hold (those :func:`perfdoctor.store.rows.check_trace`
# allows), checked here once per shape and, for a row's own fields, once per row.
_TEXT = (str, type(None))
_SCALAR = frozenset((int, float, str, type(None)))
_ROWS = frozenset((int, float, type(None)))


def decode_checked(
    text: str,
    stacks: dict[str, list[Location]],
    statements: dict[str, str],
    memo: ShapeMemo | None = None,
) -> tuple[list[Span], bool]:
    """:func:`decode`, and whether every span's fields were type-checked on the way
    (raising TypeError as ``check_trace`` does): schema 4's are, shape by shape.
    ``memo``: shapes already decoded by this read (of these stacks and statements)."""
    if memo is not None:
        split = memo.split(text, stacks, statements)
        if split is not None:
            facts, rows, family = split
            spans = _spans(facts, rows, True)
            spans.family = family
            return spans, True
    return _decode(text, stacks, statements, True)


def _decode(
    text: str, stacks: dict[str, list[Location]], statements: dict[str, str], check: bool
) -> tuple[list[Span], bool]:
    value = loads(text)
    if isinstance(value, list):
        return _schema3(value, stacks, statements), False
    shapes = _shape_facts(value["shapes"], stacks, statements, check)
    return _spans(shapes, value["spans"], check), check


# What every span of one stored shape has, in Span's order: kind, location, stack,
# framework, system, statement, fingerprint, connection_id, attrs (its spans get a
# copy each).
ShapeFacts = tuple[Any, ...]


def _shape_facts(
    shapes: list[list[Any]],
    stacks: dict[str, list[Location]],
    statements: dict[str, str],
    check: bool,
) -> list[ShapeFacts]:
    facts = []
    for shape in shapes:
        if len(shape) > len(SHAPE_FIELDS):
            raise ValueError("a span shape with more fields than it has")
        kind, framework, system, fingerprint, conn, stack_id, attrs = (shape + _PAD)[:7]
        if check and not (
            type(kind) is str
            and type(framework) in _TEXT
            and type(system) in _TEXT
            and type(fingerprint) in _TEXT
            and type(conn) in _SCALAR
        ):
            raise TypeError("a span shape holds a value of the wrong type")
        stack = stacks.get(stack_id, _NO_STACK) if stack_id is not None else _NO_STACK
        # Spans of one call site share the parsed stack: readers never change it.
        facts.append(
            (
                kind,
                stack[0] if stack else None,
                stack,
                framework,
                system,
                statements.get(fingerprint) if fingerprint else None,
                fingerprint,
                conn,
                attrs,
            )
        )
    return facts


def _spans(facts: list[ShapeFacts], value_rows: list[Any], check: bool) -> ShapedSpans:
    # Each shape's facts, its spans, its kind's spans (kinds in order of their
    # first shape).
    kinds: dict[str, list[Span]] = {}
    shapes = []
    for fact in facts:
        same_kind = kinds.get(fact[0])
        if same_kind is None:
            same_kind = kinds[fact[0]] = []
        shapes.append((*fact, [], same_kind))
    out = ShapedSpans()
    append = out.append
    new = object.__new__
    listed: list[list[Span]] = []  # each shape's spans, in order of its first one
    places: list[int] = []  # the place of each in ``facts``
    for row in value_rows:
        (
            kind,
            location,
            stack,
            framework,
            system,
            statement,
            fingerprint,
            conn,
            attrs,
            same,
            same_kind,
        ) = shapes[row[0]]
        digest = rows = None
        size = len(row)
        if size > 3:
            if size > _ROW_SIZE:
                raise ValueError("a span row with more fields than it has")
            digest = row[3]
            if check and type(digest) not in _TEXT:
                raise TypeError("a span row holds a value of the wrong type")
            if size > 4:
                rows = row[4]
                if check and type(rows) not in _ROWS:
                    raise TypeError("a span row holds a value of the wrong type")
        # Span's fields set one by one, in its __init__'s order, without calling it
        # (Span has no __post_init__ to skip): the instances then keep their values
        # in the layout the class shares (no dict per span), which makes a span
        # ~35% cheaper to build and to free, and its fields quicker to read.  Never
        # assign a span's __dict__: that gives each span a dict of its own again.
        span = new(Span)
        span.kind = kind
        # A number divided is a float; anything else raises TypeError.
        span.start_ms = row[1] / 1000
        span.duration_ms = row[2] / 1000
        span.location = location
        span.stack = stack
        span.framework = framework
        span.system = system
        span.statement = statement
        span.fingerprint = fingerprint
        span.params_digest = digest
        span.rows = rows
        span.connection_id = conn
        # (A copy of a dict: a third quicker than dict() of it.)
        span.attrs = {} if not attrs else attrs.copy() if type(attrs) is dict else dict(attrs)
        append(span)
        if not same:
            listed.append(same)
            places.append(row[0])
        same.append(span)
        same_kind.append(span)
    out.shapes = listed
    out.places = places
    # A kind whose shapes have no span (a hand-edited value) is not listed.
    out.kinds = {kind: spans for kind, spans in kinds.items() if spans}
    out.size = len(out)
    return out


class ShapeMemo:
    """The shapes of the spans values one read has decoded, by their text.

    A value is written as ``{"shapes":[...],"spans":[...]}``, and the traces of
    one code path mostly store the same shapes text: their JSON is parsed, and
    their stacks and statements looked up, once per read instead of once per
    trace.  A value laid out otherwise, or a text that does not parse, is left to
    :func:`_decode` (which says what is wrong with it).

    Two requests of one code path may store shapes that differ only in their
    connection ids: Django closes its connection after each request by default
    (``CONN_MAX_AGE = 0``), so each request's connection is a new object, and
    the bakery demo's 3,048 requests stored 307 shapes texts, 17 once the ids
    are set aside.  A text is also kept with its connection's id cut out (a
    request's queries share one connection: the first id found, cut wherever
    it stands as a number), and a text that matches it there takes its shapes
    with its own id put back.
    """

    __slots__ = ("known", "lookups", "misses", "stacks", "statements", "templates")

    def __init__(self) -> None:
        self.known: dict[str, _Kept] = {}
        # The shapes text with its first connection's id cut out (_cut) -> its
        # facts, and the places of the facts on that connection.
        self.templates: dict[str, tuple[_Kept, tuple[int, ...]]] = {}
        self.stacks: object = None
        self.statements: object = None
        self.lookups = self.misses = 0

    def split(
        self, text: object, stacks: dict[str, list[Location]], statements: dict[str, str]
    ) -> tuple[list[ShapeFacts], list[Any], ShapeFamily] | None:
        """The facts of each shape of ``text`` and its span rows, exactly as
        :func:`_decode` would read them, and the family of its shapes; None to leave
        ``text`` to it."""
        if type(text) is not str or not text.startswith(_HEAD):
            return None
        if stacks is not self.stacks or statements is not self.statements:
            self.known.clear()  # another read's: start again
            self.templates.clear()
            self.lookups = self.misses = 0
            self.stacks, self.statements = stacks, statements
        # The first '],"spans":[' ends the shapes unless it lies inside one of
        # their strings, and then the text before it is no complete JSON array,
        # so never a key of ``known``: a text found there is the shapes array.
        cut = text.find(_JOIN, _SHAPES_AT)
        if cut < 0:
            return None
        key = text[_SHAPES_AT : cut + 1]
        kept = self.known.get(key)
        self.lookups += 1
        if kept is None and self.templates:
            kept = self._from_template(key)
        if kept is None and self.misses > _MEMO_MISSES and self.misses * 2 > self.lookups:
            return None  # shapes that seldom repeat: not worth the keys
        try:
            rows, end = _scan(text, cut + _ROWS_AFTER_CUT)
        except (StopIteration, ValueError):
            return None
        if end != len(text) - 1 or text[end] != "}":
            return None
        if kept is None:
            self.misses += 1
            try:
                shapes, end = _scan(key, 0)
            except (StopIteration, ValueError):
                return None
            if end != len(key) or type(shapes) is not list:
                return None
            facts = _shape_facts(shapes, stacks, statements, True)
            nested = tuple(
                (i, _plan(fact[8]))
                for i, fact in enumerate(facts)
                if type(fact[8]) in _CONTAINERS and not _flat(fact[8])
            )
            kept = (facts, nested, ShapeFamily(facts))
            self._keep(key, kept)
            self._keep_template(key, shapes, kept)
        facts, nested, family = kept
        if nested:
            # Spans get a shallow copy of their shape's attrs: what is nested in
            # them is each trace's own, as a decode of the text would make it.
            facts = facts.copy()
            for index, plan in nested:
                fact = facts[index]
                facts[index] = (*fact[:8], _copied(fact[8], plan))
        return facts, rows, family

    def _keep(self, key: str, kept: _Kept) -> None:
        if len(self.known) >= _MEMO_SIZE:
            self.known.clear()
        self.known[key] = kept

    def _from_template(self, key: str) -> _Kept | None:
        cut = _cut(key)
        if cut is None:
            return None
        number, holed = cut
        found = self.templates.get(holed)
        if found is None:
            return None
        (facts, nested, family), holders = found
        try:
            conn = int(number)
        except ValueError:  # past int()'s digits limit: left to the decoder, as json is
            return None
        facts = facts.copy()
        for index in holders:
            fact = facts[index]
            facts[index] = (*fact[:7], conn, fact[8])
        kept = (facts, nested, family)
        self._keep(key, kept)
        return kept

    def _keep_template(self, key: str, shapes: list[Any], kept: _Kept) -> None:
        """``key`` kept with its first connection id cut out wherever it stands as a
        number, when exactly the connection ids are what the cuts take: the text
        with that number one more in each cut must read as these shapes with those
        connection ids one more, and nothing else changed."""
        cut = _cut(key)
        if cut is None:
            return
        number, holed = cut
        try:
            conn = int(number)
            probe = _filled(key, number, str(conn + 1))
            moved, end = _scan(probe, 0)
        except (StopIteration, ValueError):
            return
        if end != len(probe) or type(moved) is not list or len(moved) != len(shapes):
            return
        holders = []
        for index, (was, now) in enumerate(zip(shapes, moved)):
            if was == now:
                continue
            if (
                len(now) != len(was)
                or len(was) < 5
                or type(was[4]) is not int
                or was[4] != conn
                or now[4] != conn + 1
                or now[:4] != was[:4]
                or now[5:] != was[5:]
            ):
                return
            holders.append(index)
        # Every shape on that connection is a holder: one whose id the cut missed
        # would keep this connection's id in a text that reads with another's.
        on_it = [i for i, fact in enumerate(kept[0]) if type(fact[7]) is int and fact[7] == conn]
        if holders != on_it:
            return
        if len(self.templates) >= _MEMO_SIZE:
            self.templates.clear()
        self.templates[holed] = (kept, tuple(holders))


# A shape's facts, and the place of each whose attrs hold a list or a dict with
# where those are in it (:func:`_plan`).
_Kept = tuple[list[ShapeFacts], tuple[tuple[int, "_Plan"], ...], ShapeFamily]

_HEAD = '{"shapes":['
_JOIN = '],"spans":['
_SHAPES_AT = len('{"shapes":')
_ROWS_AFTER_CUT = len('],"spans":')
# Distinct shapes texts kept (a few kB each), and misses before a read whose
# shapes seldom repeat parses no more than every other new text for the memo.
_MEMO_SIZE = 512
_MEMO_MISSES = 1000
_FLAT = frozenset((str, int, float, bool, type(None)))
_CONTAINERS = frozenset((dict, list))
# A shape's connection id, an integer after its kind, framework, system and
# fingerprint (each a string or null): the first one found is the one cut out
# (_cut), and a text is kept by its cuts only once a probe shows they are
# exactly that connection's ids (ShapeMemo._keep_template).
_TEXT_OR_NULL = r'(?:"(?:[^"\\]|\\.)*"|null)'
_CONNECTION = re.compile(
    rf"(\[{_TEXT_OR_NULL},{_TEXT_OR_NULL},{_TEXT_OR_NULL},{_TEXT_OR_NULL},)"
    r"(-?(?:0|[1-9][0-9]*))(?=[,\]])"
)


def _filled(key: str, number: str, by: str) -> str:
    """``key`` with ``number`` replaced by ``by`` wherever it stands as a number
    after a comma (each shape's connection id does)."""
    return key.replace(f",{number},", f",{by},").replace(f",{number}]", f",{by}]")


def _cut(key: str) -> tuple[str, str] | None:
    """The text's first connection id, and the text with it cut out (``#``); None
    for a text with no connection id or a ``#`` of its own (which would let a text
    whose hole holds one match it)."""
    if "#" in key:
        return None
    first = _CONNECTION.search(key)
    if first is None:
        return None
    number = first.group(2)
    return number, _filled(key, number, "#")


def _flat(attrs: Any) -> bool:
    return attrs is None or (
        type(attrs) is dict and all(type(value) in _FLAT for value in attrs.values())
    )


# Where a decoded JSON list or dict holds more of them: (key or index, where
# those hold more), empty for one that holds none.
_Plan = tuple[tuple[Any, "_Plan"], ...]


def _plan(value: Any) -> _Plan:
    items = value.items() if type(value) is dict else enumerate(value)
    return tuple((key, _plan(item)) for key, item in items if type(item) not in _FLAT)


def _copied(value: Any, plan: _Plan) -> Any:
    """A copy of a decoded JSON list or dict, each list and dict in it a new one
    (``plan``: where they are, from :func:`_plan` of it or of one laid out alike)."""
    out = value.copy()
    for key, inner in plan:
        out[key] = _copied(out[key], inner)
    return out


def _schema3(
    rows: list[list[Any]], stacks: dict[str, list[Location]], statements: dict[str, str]
) -> list[Span]:
    spans = []
    for (
        kind,
        start_ms,
        duration_ms,
        framework,
        system,
        fingerprint,
        params_digest,
        nrows,
        connection_id,
        stack_id,
        attrs,
    ) in rows:
        stack = stacks.get(stack_id, _NO_STACK) if stack_id is not None else _NO_STACK
        spans.append(
            Span(
                kind=kind,
                start_ms=start_ms,
                duration_ms=duration_ms,
                location=stack[0] if stack else None,
                stack=stack,
                framework=framework,
                system=system,
                statement=statements.get(fingerprint) if fingerprint else None,
                fingerprint=fingerprint,
                params_digest=params_digest,
                rows=nrows,
                connection_id=connection_id,
                attrs=json.loads(attrs) if attrs else {},
            )
        )
    return spans


# --------------------------------------------------------------------------- SQL

# For people and tools that query the store with SQL: the spans laid out as
# schema 3's rows were.  A span's shape is looked up by position in the same value
# (SQLite keeps the value it has just parsed; a join over the shapes' json_each,
# or a branch for schema-3 values, made every query several times slower).  A
# schema-3 store keeps its own view; a schema-3 value in a schema-4 store (an
# older perfdoctor still writing after the upgrade) is read by perfdoctor, left
# out here.
_SHAPE = "json_extract(traces.spans, '$.shapes[' || json_extract(span.value, '$[0]') || ']')"
_COLUMNS = {
    "kind": "json_extract(shape, '$[0]')",
    "start_ms": "start_us / 1000.0",
    "duration_ms": "duration_us / 1000.0",
    "framework": "json_extract(shape, '$[1]')",
    "system": "json_extract(shape, '$[2]')",
    "fingerprint": "json_extract(shape, '$[3]')",
    "params_digest": "params_digest",
    "rows": "rows",
    "connection_id": "json_extract(shape, '$[4]')",
    "stack_id": "json_extract(shape, '$[5]')",
    "attrs": "json_extract(shape, '$[6]')",
}
assert tuple(_COLUMNS) == SPAN_FIELDS
SPANS_VIEW = f"""CREATE VIEW IF NOT EXISTS spans AS
SELECT trace_id, seq, {", ".join(f"{sql} AS {name}" for name, sql in _COLUMNS.items())}
FROM (
  SELECT traces.id AS trace_id, CAST(span.key AS INTEGER) AS seq, {_SHAPE} AS shape,
    json_extract(span.value, '$[1]') AS start_us,
    json_extract(span.value, '$[2]') AS duration_us,
    json_extract(span.value, '$[3]') AS params_digest,
    json_extract(span.value, '$[4]') AS rows
  FROM traces, json_each(traces.spans, '$.spans') AS span
)"""
