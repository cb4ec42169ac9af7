"""An app whose every query two instrumentations report: the ORM's and the driver's.

``recorded/sqlalchemy_and_driver.jsonl`` is what OpenTelemetry's own SQLAlchemy
and sqlite3 instrumentations (0.66b1, SQLAlchemy 2.0.58; the SQLAlchemy
instrumentation does not take the 2.1 this suite installs) wrote through the
official JSON file exporter for a request that reads a list and then one row
per item, as ``opentelemetry-instrument`` sets an app up: every instrumentation
it finds on.  Each query comes twice, siblings under the request, SQLAlchemy's
span starting first and ending last.  Counted twice, the loop of five was ten
and the list's read a duplicate query.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tests.conftest import findings, report_json, run_perfdoctor

RECORDED = Path(__file__).with_name("recorded") / "sqlalchemy_and_driver.jsonl"


def _imported(tmp_path: Path, lines: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    source = tmp_path / "spans.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    traces = tmp_path / "traces.db"
    done = run_perfdoctor("import", "otlp", str(source), "--traces", str(traces))
    assert done.returncode == 0, done.stderr
    return done.stdout, report_json(traces)


def _lines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in RECORDED.read_text().splitlines()]


def _spans(lines: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (scope["scope"]["name"], span)
        for line in lines
        for resource in line["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]


def test_a_query_two_instrumentations_report_counts_once(tmp_path: Path) -> None:
    out, report = _imported(tmp_path, _lines())
    assert "6 queries were sent twice, by the ORM's instrumentation and the driver's" in out
    [endpoint] = report["endpoints"]
    assert endpoint["name"] == "GET /items"
    assert endpoint["queries_per_request"] == 6
    [loop] = findings(report, "n-plus-one-query")
    assert loop["evidence"]["count"] == 5
    # SQLAlchemy's span is the one kept: the fix is the ORM's.
    assert loop["evidence"]["framework"] == "sqlalchemy"
    assert "selectinload" in loop["fix"]
    assert findings(report, "duplicate-query") == []


def test_one_instrumentations_query_twice_at_once_is_two_queries(tmp_path: Path) -> None:
    """The same query run twice concurrently (asyncio.gather) by one instrumentation:
    one span may enclose the other, and both ran."""
    lines = _lines()
    [(_, list_read)] = [
        (scope, span)
        for scope, span in _spans(lines)
        if scope.endswith("sqlite3") and span["name"] == "SELECT"
        and any(a["value"].get("stringValue") == "SELECT id FROM t" for a in span["attributes"])
    ]  # fmt: skip
    again = copy.deepcopy(list_read)
    again["spanId"] = "00000000000000aa"
    again["startTimeUnixNano"] = str(int(list_read["startTimeUnixNano"]) - 1000)
    again["endTimeUnixNano"] = str(int(list_read["endTimeUnixNano"]) + 1000)
    lines.append(
        {"resourceSpans": [{"resource": lines[0]["resourceSpans"][0]["resource"], "scopeSpans": [
            {"scope": {"name": "opentelemetry.instrumentation.sqlite3"}, "spans": [again]}
        ]}]}
    )  # fmt: skip
    _, report = _imported(tmp_path, lines)
    [endpoint] = report["endpoints"]
    assert endpoint["queries_per_request"] == 7


def test_the_receiver_counts_them_once_and_says_so(tmp_path: Path) -> None:
    from tests.collect.receiver import Receiver

    receiver = Receiver(tmp_path)
    try:
        # Each line is one export request of the SDK's, as it posts them.
        for line in _lines():
            assert receiver.post_json(line) == 200
        code, out, _ = receiver.stop()
    finally:
        receiver.kill()
    assert code == 0
    assert "6 queries sent by both the ORM's and the driver's instrumentation counted once" in out
    [endpoint] = report_json(receiver.store)["endpoints"]
    assert endpoint["queries_per_request"] == 6
