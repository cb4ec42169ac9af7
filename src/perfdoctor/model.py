"""The data model at the centre of perfdoctor.

Capture produces :class:`Trace` objects made of :class:`Span` objects, detectors
read them and produce :class:`Finding` objects, reports render findings.  Nothing
on either side reaches past this module into the other.

Span kinds and the facts each carries (``Span.attrs`` keys unless a field is
named).  Capture fills them, detectors rely on them; no attribute ever holds a
parameter value, a cookie or a credential (digests are keyed per process).

``db``
    fields ``system`` (sqlite, postgresql, mysql), ``statement`` (literals
    replaced), ``fingerprint``, ``params_digest``, ``rows`` (rows fetched, when
    known), ``connection_id``.  attrs: ``blocks_event_loop`` (a synchronous
    driver called on a thread running an asyncio loop), ``offset`` (the OFFSET
    of a paginated query, literal or bound, kept only when it is an int),
    ``params`` (only with ``--capture-params``), ``trigger`` (the library code
    that ran the query for the user, see :mod:`perfdoctor.triggers`: ``kind``
    drf-serializer / marshmallow-schema / django-template / jinja2-template /
    graphql-field (then ``type``, ``field``, ``resolver`` and ``feeder``: the
    user's functions behind the field's resolver and the list's, see
    :mod:`perfdoctor.graphql_fields`),
    ``class`` and ``field`` (and ``source``) or ``template`` and ``line``,
    ``path``, and ``inside``: how many user frames lie inside it),
    ``relation`` (SQLAlchemy: the query is a relationship load's, lazy, selectin
    or subquery, of this ``Model.attribute``).
``db.connect``
    a new database connection opened: field ``system``, ``connection_id``.
``http``
    an outbound HTTP call. field ``system`` = the client library (requests,
    httpx, urllib3, aiohttp, urllib, http.client). attrs: ``method``, ``host`` (host:port),
    ``url`` (scheme://host/path, no user info, no query; ids, dates, e-mail
    addresses and tokens in the path templated: see ``capture/raw_paths.py``),
    ``status`` (None when it failed), ``bytes`` (response body bytes when known),
    ``timeout`` (seconds in effect, None for no timeout),
    ``error`` (exception class name), ``blocks_event_loop``, ``url_digest``
    (keyed digest of the full URL, query included), ``response_digest`` (keyed
    digest of the body, when the client had read it), ``async`` (an awaited call),
    ``connection_reused`` (urllib, http.client: the request went over a connection
    already open rather than a new one).
``cache``
    a cache operation. field ``system`` (redis, django-cache). attrs: ``op``
    (get, set, delete, mget, ...), ``key`` (the key with id-like parts
    collapsed), ``key_digest`` (the exact key, keyed digest), ``ttl``
    (seconds set on a write; None for no expiry), ``hit`` (on reads),
    ``value_digest`` (keyed digest of the value read or written),
    ``blocks_event_loop``; also ``keys``/``hits`` (multi-key operations),
    ``written`` (Django ``add``/``get_or_set``: whether a value was stored),
    ``ttl_kept`` (SET KEEPTTL; also an imported write whose expiry options the
    span hid, then with ``expiry_unrecorded``), ``backend`` (the Django backend class),
    ``error`` (exception class name).  A redis pipeline is one span, op
    ``pipeline``, with ``commands`` (how many), ``transaction`` and
    ``writes`` (each write's ``op``, ``key``, ``key_digest``, ``ttl``...).

``orm.eager``
    an eager load an evaluated ORM query carried (``unused-eager-load``), at
    the user's line that evaluated or executed it.  attrs: ``orm`` (django,
    sqlalchemy), ``method`` (select_related, prefetch_related, joinedload,
    selectinload, subqueryload), ``relation`` (the path as written, ``author``,
    or ``Article.tags``), ``written`` (the call as written,
    ``select_related("author")``), ``model``, ``rows`` (Django: rows that
    carried it), ``related_rows`` (prefetch: related rows loaded), ``cost``
    (``join`` or ``query``), ``used`` (whether the request read it on any row).
    A Django prefetch's span covers its query; a ``select_related`` one, the
    evaluation of the queryset.
``orm.eager.query``
    SQLAlchemy, in traces captured before the relation was a db span's attribute:
    a relationship loader's own SELECT follows (lazy, selectin, subquery);
    attrs: ``relation``.
``job.enqueue``
    a task handed to a queue (Celery ``delay``/``apply_async``, RQ ``enqueue``,
    Dramatiq ``send``), at the user's line: field ``system`` (celery, rq,
    dramatiq); attrs ``task`` (its dotted name), ``queue``, ``error``.  The
    broker commands the library sends for it are not recorded as ``cache`` spans.

Trace attrs: ``response_headers`` (content-type, content-length,
cache-control, etag, last-modified, content-encoding, vary), ``response``
(``bytes`` sent, ``items``: the length of a top-level JSON list or of the list
in an envelope, ``paginated``: the envelope has paging keys such as next/count/
cursor, ``body_digest``: keyed digest of the body up to
``response_parse_max_bytes``), ``response_ms`` (when the last body chunk
was sent; work after it, such as ASGI background tasks or the end of a WSGI
request, did not delay the client), ``query_names`` (the request's query
parameter names, never values), ``handler`` (``path``, ``line``,
``function`` of the view that answered; for a class-based view also ``class``
and ``class_path``), ``framework`` (django, flask,
starlette, fastapi), ``user`` (keyed digest of who made the request, None
when anonymous), ``authenticated`` (bool),
``async`` (an async handler), ``service`` (OpenTelemetry's ``service.name``
of an imported trace), ``memory`` (``peak_kb``: growth over the
request's start, and ``top``: ``path``/``line``/``kb`` allocation sites in
user code, with ``--memory``), ``cpu_ms``, ``machine`` (the machine when the
trace ended, read at most once a second: ``load1``, ``cpus``, ``cpu_pressure``,
``steal_pct``, each where the platform has it; see
:mod:`perfdoctor.capture.machine`), ``job`` (a queued task's run,
kind ``job``, named ``task <dotted.name>``: ``system``, ``task``, ``queue``,
``id`` (the task's id in its queue), ``wait_ms`` (from the enqueue, or the ETA
of a delayed task, to the start), ``run_ms``, ``enqueued_by`` (the id of the
trace that enqueued it, when captured), ``retries``, ``error`` (exception class
name); its ``handler`` is the task's function), ``orm`` (content ids of the
process's ORM catalogs in the store's ``orm_catalogs`` table, one per ORM the
app had imported).

``Trace.orm`` holds those catalogs parsed (:class:`perfdoctor.orm.catalog.Catalog`:
the models, tables, columns and relation names as Django's ``_meta`` or
SQLAlchemy's mappers describe them), shared by every trace of a process; empty
when capture could not read them (no ORM, older stores, traces from other OTLP
producers; ``perfdoctor export otlp`` carries them on the resource as
``perfdoctor.orm``, so its own round trip keeps them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from perfdoctor.orm.catalog import Catalog

Severity = Literal["error", "warning", "info"]
SEVERITY_RANK: dict[str, int] = {"error": 3, "warning": 2, "info": 1}
# Trace kind of a server process's own work outside requests (start-up, checks):
# analysed by detectors, but not an endpoint.
SERVER_KIND = "server"
# Trace kind of one run of a queued task (Celery, RQ, Dramatiq) or of a
# ``perfdoctor.trace`` block: judged against the job budget, not the endpoint one.
JOB_KIND = "job"
# Span kind of one request served inside a trace of another kind (a test client's
# request inside a test's trace): its start and end bound that request's work.
TEST_REQUEST = "test.request"


@dataclass(frozen=True)
class Location:
    """A place in the user's code."""

    path: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "function": self.function}


@dataclass
class Span:
    """One operation inside a trace (a query, an outbound call, a cache read...)."""

    kind: str
    start_ms: float
    duration_ms: float
    location: Location | None = None
    stack: list[Location] = field(default_factory=list)
    # Which library issued the operation on the user's behalf (django, sqlalchemy...),
    # None when user code called the driver directly.
    framework: str | None = None
    system: str | None = None
    statement: str | None = None
    fingerprint: str | None = None
    params_digest: str | None = None
    rows: int | None = None
    connection_id: int | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def end_ms(self) -> float:
        return self.start_ms + self.duration_ms


@dataclass
class Trace:
    """One unit of work: an HTTP request, a job, a script, a ``perfdoctor.trace`` block."""

    id: str
    name: str
    kind: str
    started_at: float
    duration_ms: float
    status: int | None = None
    pid: int = 0
    cpu_ms: float | None = None
    spans: list[Span] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    # The app's models as its ORMs describe them (one per ORM in use), when
    # capture could read them; empty for other producers and older stores.
    orm: tuple[Catalog, ...] = ()

    def db_spans(self) -> list[Span]:
        return [s for s in self.spans if s.kind == "db"]


def by_endpoint(traces: Iterable[Trace]) -> dict[str, list[Trace]]:
    """Traces grouped by name, leaving out a server's own work outside requests."""
    groups: dict[str, list[Trace]] = {}
    for trace in traces:
        if trace.kind != SERVER_KIND:
            groups.setdefault(trace.name, []).append(trace)
    return groups


@dataclass
class Finding:
    """A problem a detector found, with the evidence that shows it."""

    id: str
    severity: Severity
    title: str
    endpoint: str | None
    location: Location | None
    evidence: dict[str, Any]
    fix: str
    # Groups repeats of the same problem (the same N+1 on every request) into one.
    fingerprint: str = ""
    # One request that shows the problem (its waterfall in the HTML report); None
    # when the detector judged many requests together.
    trace_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "title": self.title,
            "endpoint": self.endpoint,
            "location": self.location.to_dict() if self.location else None,
            "evidence": self.evidence,
            "fix": self.fix,
            # Added in version 1: the id of one stored trace that shows it.
            "trace_id": self.trace_id,
            # Added in version 1: the same problem gets the same fingerprint in every
            # report, which is what `report --baseline` matches on.
            "fingerprint": self.fingerprint,
        }


@dataclass
class EndpointStats:
    """Per-endpoint latency and where the time went."""

    name: str
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    queries_per_request: float
    db_ms: float
    http_ms: float
    # Mean per request, like db_ms and http_ms; python_ms is the rest of the
    # request's wall time (its own code, templates, serialisation, waiting).
    cache_ms: float = 0.0
    python_ms: float = 0.0
    # Every request kept was a summary (``--sample-tail summary``): the queries and
    # the time by kind were not recorded, so those means are no measurement.
    summaries_only: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
