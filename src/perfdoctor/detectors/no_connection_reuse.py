"""no-connection-reuse: most requests of an endpoint open a new database connection."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence

from perfdoctor.detectors import register
from perfdoctor.detectors._kinds import of_kind
from perfdoctor.detectors.base import (
    JudgedEndpoints,
    Session,
    Summarising,
    finding_fingerprint,
)
from perfdoctor.model import Finding, Location, Severity, Trace
from perfdoctor.settings import Settings

# Opening these costs a network round trip or more (TCP, TLS, authentication,
# a server process); SQLite's open is a file open plus the app's setup queries.
NETWORKED = ("postgresql", "mysql")


def _release(version: str | None) -> tuple[int, int] | None:
    try:
        major, minor = (version or "").split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return None


def remedy(framework: str | None, system: str | None, django_version: str | None = None) -> str:
    # A pooler in front of the server is PostgreSQL's answer (healthchecks on SQLite was
    # told to put PgBouncer in front of PostgreSQL).
    pooler = system in (None, "postgresql")
    if framework == "django":
        # Name only what the app's Django has (healthchecks on Django 3.2 was told to set
        # CONN_HEALTH_CHECKS, which arrived in 4.1); an unknown version gets both, marked.
        release = _release(django_version)
        if release is None:
            health = " (with CONN_HEALTH_CHECKS = True on Django 4.1+)"
        elif release >= (4, 1):
            health = " (with CONN_HEALTH_CHECKS = True)"
        else:
            health = ""
        pool = ""
        if system == "postgresql" and (release is None or release >= (5, 1)):
            pool = (
                ' On PostgreSQL with Django 5.1+ and psycopg 3, "OPTIONS": {"pool": True} '
                "keeps a pool in each worker."
            )
        return (
            "Django closes the connection after every request when CONN_MAX_AGE is 0 (the "
            f"default): set DATABASES[...]['CONN_MAX_AGE'] = 60{health} so each worker keeps "
            f"its connection.{pool}"
            + (" Behind many workers, put PgBouncer in front of PostgreSQL." if pooler else "")
        )
    if framework == "sqlalchemy":
        return (
            "Create the engine (and sessionmaker) once, when the app starts, not in the "
            "request: its pool then hands each request a connection that is already open. "
            "Do not use NullPool for a web app"
            + ("; behind many workers, use PgBouncer." if pooler else ".")
        )
    if system == "sqlite":
        return (
            "Open the database once per worker (or thread) and reuse the connection, "
            "not a sqlite3.connect() call per request."
        )
    return (
        "Open connections once and reuse them: a pool created at start-up "
        "(psycopg_pool.ConnectionPool, asyncpg.create_pool, SQLAlchemy's engine)"
        + (", or PgBouncer in front of the database" if pooler else "")
        + "; not a connect() call per request."
    )


class _Endpoint:
    """One endpoint's requests so far: how many opened a connection, and the
    connects' systems, frameworks, time and call sites (counts, not spans)."""

    def __init__(self) -> None:
        self.requests = 0
        self.opening = 0
        self.connects = 0
        self.total_ms = 0.0
        self.systems: Counter[str | None] = Counter()
        self.frameworks: Counter[str | None] = Counter()
        self.locations: dict[Location, int] = {}
        self.django_version: str | None = None
        # The threads connections were opened in (up to a bound): when every
        # opening request had a thread of its own, the server runs a thread per
        # request and no per-thread connection can be kept.
        self.threads: set[str] = set()
        self.threaded_requests = 0

    def add(self, trace: Trace) -> None:
        self.requests += 1
        mine = of_kind(trace, "db.connect")
        self.opening += bool(mine)
        names = {str(s.attrs["thread"]) for s in mine if s.attrs.get("thread")}
        if names and len(self.threads) < _MAX_THREADS:
            self.threaded_requests += 1
            self.threads |= names
        for span in mine:
            self.connects += 1
            self.total_ms += span.duration_ms
            self.systems[span.system] += 1
            self.frameworks[span.framework] += 1
            if span.location is not None:
                self.locations[span.location] = self.locations.get(span.location, 0) + 1
        if self.django_version is None:
            self.django_version = _django_version((trace,))


class _Session(JudgedEndpoints[_Endpoint]):
    def add(self, summary: _Endpoint, trace: Trace) -> None:
        summary.add(trace)

    def findings(self) -> list[Finding]:
        return one_per_cause(super().findings(), self.endpoints)


@register
class NoConnectionReuse(Summarising):
    id = "no-connection-reuse"
    description = "a new database connection opened in most requests of an endpoint"

    def session(self, settings: Settings) -> Session:
        return _Session(self.judge, settings, _Endpoint)

    def judge(self, name: str, endpoint: _Endpoint, settings: Settings) -> Finding | None:
        requests, opening = endpoint.requests, endpoint.opening
        share = opening / requests
        if (
            opening < settings.no_connection_reuse_min_requests
            or share < settings.no_connection_reuse_min_share
        ):
            return None
        system = endpoint.systems.most_common(1)[0][0]
        framework = endpoint.frameworks.most_common(1)[0][0]
        total_ms = endpoint.total_ms
        severity: Severity = "warning" if system in NETWORKED else "info"
        location = (
            max(endpoint.locations.items(), key=lambda item: item[1])[0]
            if endpoint.locations
            else None
        )
        return Finding(
            id=self.id,
            severity=severity,
            title=(
                f"No connection reuse: {opening} of {requests} requests opened "
                f"a new {system or 'database'} connection"
            ),
            endpoint=name,
            location=location,
            evidence={
                "requests": requests,
                "requests_with_connect": opening,
                # The requests that showed it, not the one finding merged.
                "requests_affected": opening,
                "connections_per_request": round(endpoint.connects / requests, 2),
                "connect_ms": round(total_ms / endpoint.connects, 3),
                "total_ms": round(total_ms / requests, 3),
                "framework": framework,
                "system": system,
            },
            fix=(_per_thread(endpoint) if framework == "django" else "")
            + remedy(framework, system, endpoint.django_version),
            fingerprint=finding_fingerprint(self.id, *_cause(framework, system, location)),
        )


# Thread names kept per endpoint: enough to tell a thread per request.
_MAX_THREADS = 1000


def _per_thread(endpoint: _Endpoint) -> str:
    """What to say first when every opening request ran in a thread of its own.

    Django only: its connections belong to a thread, where a pool (SQLAlchemy's,
    psycopg's) is shared by the process's threads and outlives them."""
    if endpoint.threaded_requests < 2 or len(endpoint.threads) < endpoint.threaded_requests:
        return ""
    example = sorted(endpoint.threads)[0]
    return (
        f"Each of these requests ran in a new thread ({example!r}, ...): a server that "
        "starts a thread per request (Django's runserver, socketserver's ThreadingMixIn) "
        "closes each thread's connection with it, so no setting can keep one; Django's "
        "docs advise against persistent connections under runserver. Measure under your "
        "production server (gunicorn, uWSGI: their workers reuse threads) before "
        "changing anything. Under that server: "
    )


def _django_version(traces: Sequence[Trace]) -> str | None:
    for trace in traces:
        for catalog in trace.orm:
            if catalog.framework == "django" and catalog.version:
                return catalog.version
    return None


def _cause(
    framework: str | None, system: str | None, location: Location | None
) -> tuple[object, ...]:
    """What one fix mends: Django's CONN_MAX_AGE is one setting for every
    endpoint; elsewhere the line that connects (an engine made per request,
    a connect() call)."""
    if framework == "django":
        return (framework, system)
    where = (location.path, location.line) if location is not None else None
    return (framework, system, where)


def one_per_cause(findings: list[Finding], endpoints: dict[str, _Endpoint]) -> list[Finding]:
    """Endpoints with the same cause make one finding, on the endpoint that spent
    the most time connecting, the others listed in its evidence (healthchecks:
    six identical findings, one per page, each telling to set CONN_MAX_AGE).
    ``endpoints``: the summaries the findings were judged from, by endpoint."""
    groups: dict[str | None, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.fingerprint, []).append(finding)
    return [group[0] if len(group) == 1 else _joined(group, endpoints) for group in groups.values()]


def _joined(group: list[Finding], endpoints: dict[str, _Endpoint]) -> Finding:
    def summary(finding: Finding) -> _Endpoint:
        return endpoints[finding.endpoint or ""]

    ranked = sorted(group, key=lambda f: (-summary(f).total_ms, f.endpoint or ""))
    lead = ranked[0]
    summaries = [summary(f) for f in group]
    requests = sum(e.requests for e in summaries)
    opening = sum(e.opening for e in summaries)
    connects = sum(e.connects for e in summaries)
    spent = sum(e.total_ms for e in summaries)
    evidence = dict(lead.evidence)
    evidence.update(
        requests=requests,
        requests_with_connect=opening,
        requests_affected=opening,
        connections_per_request=round(connects / requests, 2),
        connect_ms=round(spent / connects, 3),
        total_ms=round(spent / requests, 3),
        # The other endpoints, costliest first (the finding's own is its endpoint).
        also_on=[
            {
                "endpoint": f.endpoint,
                "requests": summary(f).requests,
                "requests_with_connect": summary(f).opening,
            }
            for f in ranked[1:]
        ],
    )
    return dataclasses.replace(
        lead,
        title=(
            f"No connection reuse: {opening} of {requests} requests on {len(group)} "
            f"endpoints opened a new {evidence.get('system') or 'database'} connection"
        ),
        evidence=evidence,
    )
