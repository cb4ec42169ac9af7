"""no-connection-reuse: most requests of an endpoint open a new database connection."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from perfdoctor.detectors import register
from perfdoctor.detectors._groups import most_common_location
from perfdoctor.detectors.base import Detector, finding_fingerprint
from perfdoctor.model import Finding, Severity, Span, Trace
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
            f"its connection.{pool} Behind many workers, put PgBouncer in front of PostgreSQL."
        )
    if framework == "sqlalchemy":
        return (
            "Create the engine (and sessionmaker) once, when the app starts, not in the "
            "request: its pool then hands each request a connection that is already open. "
            "Do not use NullPool for a web app; behind many workers, use PgBouncer."
        )
    return (
        "Open connections once and reuse them: a pool created at start-up "
        "(psycopg_pool.ConnectionPool, asyncpg.create_pool, SQLAlchemy's engine), or "
        "PgBouncer in front of the database; not a connect() call per request."
    )


@register
class NoConnectionReuse(Detector):
    id = "no-connection-reuse"
    description = "a new database connection opened in most requests of an endpoint"

    def analyze(self, traces: Sequence[Trace], settings: Settings) -> list[Finding]:
        by_endpoint: dict[str, list[Trace]] = defaultdict(list)
        for trace in traces:
            if trace.kind == "http":
                by_endpoint[trace.name].append(trace)
        found = []
        for endpoint, requests in by_endpoint.items():
            connects: list[Span] = []
            opening = 0
            for trace in requests:
                mine = [s for s in trace.spans if s.kind == "db.connect"]
                connects.extend(mine)
                opening += bool(mine)
            share = opening / len(requests)
            if (
                opening < settings.no_connection_reuse_min_requests
                or share < settings.no_connection_reuse_min_share
            ):
                continue
            system = Counter(s.system for s in connects).most_common(1)[0][0]
            framework = Counter(s.framework for s in connects).most_common(1)[0][0]
            total_ms = sum(s.duration_ms for s in connects)
            severity: Severity = "warning" if system in NETWORKED else "info"
            found.append(
                Finding(
                    id=self.id,
                    severity=severity,
                    title=(
                        f"No connection reuse: {opening} of {len(requests)} requests opened "
                        f"a new {system or 'database'} connection"
                    ),
                    endpoint=endpoint,
                    location=most_common_location(connects),
                    evidence={
                        "requests": len(requests),
                        "requests_with_connect": opening,
                        "connections_per_request": round(len(connects) / len(requests), 2),
                        "connect_ms": round(total_ms / len(connects), 3),
                        "total_ms": round(total_ms / len(requests), 3),
                        "framework": framework,
                        "system": system,
                    },
                    fix=remedy(framework, system, _django_version(requests)),
                    fingerprint=finding_fingerprint(self.id, endpoint, system),
                )
            )
        return found


def _django_version(traces: Sequence[Trace]) -> str | None:
    for trace in traces:
        for catalog in trace.orm:
            if catalog.framework == "django" and catalog.version:
                return catalog.version
    return None
