"""The capture-overhead benchmark runs end to end and reports every figure.

A smoke test only: ``--quick`` figures are far too noisy to judge, so no timing
is asserted here (the measured figures live in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import POSTGRES_ADMIN_URL, REDIS_URL, _missing, _port_open

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "capture_overhead.py"
LIBRARIES = ("sqlite3", "sqlalchemy", "django", "psycopg2", "requests", "urllib", "redis")
VARIANTS = ("bare", "perfdoctor", "otel", "perfdoctor-nowriter")
# sentry-sdk and ddtrace (where installed: the bench-ddtrace extra) on the
# libraries whose queries they trace.
APM_LIBRARIES = ("sqlite3", "sqlalchemy", "django")
APM_VARIANTS = ("sentry", "ddtrace") if importlib.util.find_spec("ddtrace") else ("sentry",)
NEEDED = (
    "sqlalchemy",
    "django",
    "opentelemetry.sdk",
    "opentelemetry.instrumentation.sqlite3",
    "opentelemetry.instrumentation.sqlalchemy",
    "opentelemetry.instrumentation.django",
    "requests",
    "redis",
    "opentelemetry.instrumentation.requests",
    "opentelemetry.instrumentation.redis",
    "psycopg2",
    "opentelemetry.instrumentation.psycopg2",
    "opentelemetry.instrumentation.urllib",
    "sentry_sdk",
)


def _missing_modules() -> list[str]:
    missing = []
    for name in NEEDED:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(name)
    return missing


@pytest.fixture(scope="module")
def summary() -> dict[str, Any]:
    missing = _missing_modules()
    if missing:
        message = f"the benchmark needs {', '.join(missing)} (pip install -e '.[bench]')"
        if os.environ.get("CI"):
            pytest.fail(f"CI: {message}", pytrace=False)
        pytest.skip(message)
    if not _port_open("127.0.0.1", 6379):
        _missing("Redis", "nothing listens on 127.0.0.1:6379")
    if not _port_open("127.0.0.1", 5432):
        _missing("PostgreSQL", "nothing listens on 127.0.0.1:5432")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        env={
            **os.environ,
            "PERFDOCTOR_BENCH_REDIS": REDIS_URL,
            "PERFDOCTOR_BENCH_POSTGRES": POSTGRES_ADMIN_URL,
        },
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.mark.timeout(600)
def test_every_library_and_variant_has_positive_figures(summary: dict[str, Any]) -> None:
    rows = {(row["library"], row["variant"]): row for row in summary["results"]}
    expected = {(lib, variant) for lib in LIBRARIES for variant in VARIANTS}
    expected |= {(lib, variant) for lib in APM_LIBRARIES for variant in APM_VARIANTS}
    assert set(rows) == expected
    for key, row in rows.items():
        for metric in ("us_per_query", "thread_cpu_us_per_query", "cpu_us_per_query"):
            assert row[metric] > 0, (key, metric, row[metric])
        if row["variant"] != "bare":
            assert row["us_per_query_overhead"] is not None, key


@pytest.mark.timeout(600)
def test_every_instrumented_variant_recorded_one_span_per_query(
    summary: dict[str, Any],
) -> None:
    for row in summary["results"]:
        if row["variant"] == "bare":
            continue
        assert row["complete"], (row["library"], row["variant"], row["recorded"], row["queries"])
        # Only sentry-sdk on plain sqlite3 records none: it has no integration for it.
        untraced = (row["variant"], row["library"]) == ("sentry", "sqlite3")
        assert row["no_query_spans"] is untraced
        assert all(count == (0 if untraced else row["queries"]) for count in row["recorded"])


@pytest.mark.timeout(600)
def test_the_comparison_covers_every_library(summary: dict[str, Any]) -> None:
    assert [row["library"] for row in summary["comparison"]] == list(LIBRARIES)
    for row in summary["comparison"]:
        assert row["ratio"] is None or row["ratio"] == pytest.approx(
            row["perfdoctor_overhead_us"] / row["otel_overhead_us"]
        )
    assert summary["machine"]["cpus"] >= 1
    assert summary["plan"]["rounds"] >= 1
