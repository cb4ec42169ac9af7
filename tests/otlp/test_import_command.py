"""``perfdoctor import otlp`` on good, damaged and foreign files; the store is never lost."""

from __future__ import annotations

import gzip
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from perfdoctor import store
from perfdoctor.model import Span, Trace
from tests.conftest import run_perfdoctor
from tests.otlp.otlp_lines import line, n_plus_one

TRACE_IDS = [f"{i:032x}" for i in range(1, 6)]


def good_lines() -> list[str]:
    return [line(n_plus_one(t)) for t in TRACE_IDS]


def import_otlp(
    traces: Path, *files: Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return run_perfdoctor("import", "otlp", *map(str, files), "--traces", str(traces), cwd=cwd)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2
    assert result.stderr.startswith("perfdoctor: error: ")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


def stored_ids(traces: Path) -> set[str]:
    return {t.id for t in store.iter_traces(traces)}


@pytest.fixture
def captured_store(tmp_path: Path) -> Path:
    """A store already holding a trace captured by perfdoctor itself."""
    path = tmp_path / "traces.db"
    conn = store.open_for_writing(path)
    store.write_traces(
        conn,
        [
            Trace(
                id="captured-1",
                name="GET /home",
                kind="http",
                started_at=1.0,
                duration_ms=5.0,
                status=200,
                spans=[
                    Span(
                        kind="db",
                        start_ms=1.0,
                        duration_ms=1.0,
                        system="sqlite",
                        statement="SELECT ?",
                        fingerprint="f" * 16,
                    )
                ],
            )
        ],
    )
    conn.close()
    return path


def test_jsonl_import_adds_to_the_store(tmp_path: Path, captured_store: Path) -> None:
    src = tmp_path / "spans.jsonl"
    src.write_text("".join(good_lines()))
    result = import_otlp(captured_store, src)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("imported 5 traces (35 spans) from 1 file")
    assert stored_ids(captured_store) == {"captured-1", *TRACE_IDS}


def test_importing_the_same_file_twice_does_not_duplicate(tmp_path: Path) -> None:
    src = tmp_path / "spans.jsonl"
    src.write_text("".join(good_lines()))
    traces = tmp_path / "t.db"
    assert import_otlp(traces, src).returncode == 0
    again = import_otlp(traces, src)
    assert again.returncode == 0
    assert "5 of them were already in the store" in again.stdout
    assert store.count_traces(traces) == 5


def test_pretty_printed_document_and_gzip_are_read(tmp_path: Path) -> None:
    pretty = tmp_path / "one.json"
    pretty.write_text(json.dumps(json.loads(good_lines()[0]), indent=2))
    zipped = tmp_path / "rest.jsonl.gz"
    with gzip.open(zipped, "wt") as handle:
        handle.write("".join(good_lines()[1:]))
    traces = tmp_path / "t.db"
    result = import_otlp(traces, pretty, zipped)
    assert result.returncode == 0, result.stderr
    assert "imported 5 traces" in result.stdout and "from 2 files" in result.stdout
    assert stored_ids(traces) == set(TRACE_IDS)


def test_truncated_last_line_imports_the_rest(tmp_path: Path) -> None:
    lines = good_lines()
    src = tmp_path / "cut.jsonl"
    src.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    traces = tmp_path / "t.db"
    result = import_otlp(traces, src)
    assert result.returncode == 0, result.stderr
    assert "imported 4 traces" in result.stdout
    assert "truncated line: 1 (line 5)" in result.stdout
    assert stored_ids(traces) == set(TRACE_IDS[:-1])


def test_bad_records_are_skipped_and_counted(tmp_path: Path) -> None:
    lines = good_lines()
    broken_span = json.loads(lines[1])
    broken_span["resourceSpans"][0]["scopeSpans"][0]["spans"][3]["traceId"] = "xyz"
    src = tmp_path / "mixed.jsonl"
    src.write_text(
        lines[0]
        + "this is not json\n"
        + '{"foo": 1}\n'
        + json.dumps(broken_span)
        + "\n"
        + "{oops\n"
        + lines[2]
    )
    traces = tmp_path / "t.db"
    result = import_otlp(traces, src)
    assert result.returncode == 0, result.stderr
    assert "imported 3 traces" in result.stdout
    assert "not JSON: 2 (lines 2, 5)" in result.stdout
    assert "valid JSON but not an OTLP trace request: 1 (line 3)" in result.stdout
    assert "span without valid ids or times: 1 (line 4)" in result.stdout


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (
            "hello world\nnot json either\n",
            ["no OTLP trace data could be read", "not JSON: 2 (lines 1, 2)"],
        ),
        ('{"foo": 1}\n', ["not OTLP trace JSON", "without resourceSpans", "foo"]),
        (
            json.dumps(
                [
                    {
                        "traceId": "a" * 16,
                        "id": "b" * 16,
                        "name": "get",
                        "localEndpoint": {"serviceName": "x"},
                    }
                ]
            ),
            ["Zipkin JSON"],
        ),
        (
            json.dumps({"data": [{"traceID": "a" * 32, "spans": [], "processes": {}}]}),
            ["Jaeger JSON"],
        ),
        ('{"resourceLogs": []}\n', ["OTLP logs or metrics"]),
        ("", ["empty"]),
        (
            '{"resourceSpans": [{"scopeSp',
            ["no OTLP trace data could be read", "truncated line: 1 (line 1)"],
        ),
    ],
    ids=["text", "foo", "zipkin", "jaeger", "logs", "empty", "cut-single-line"],
)
def test_a_file_that_is_not_otlp_leaves_the_store_untouched(
    tmp_path: Path, captured_store: Path, content: str, words: list[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    before = captured_store.read_bytes()
    result = import_otlp(captured_store, bad)
    assert_one_line_error(result, str(bad), *words)
    assert captured_store.read_bytes() == before
    assert stored_ids(captured_store) == {"captured-1"}


def test_one_foreign_file_among_several_stops_before_writing(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text("".join(good_lines()))
    bad = tmp_path / "zipkin.json"
    bad.write_text('[{"traceId": "ab", "id": "cd"}]')
    traces = tmp_path / "new.db"
    assert_one_line_error(import_otlp(traces, good, bad), "Zipkin")
    assert not traces.exists()


def test_missing_file_and_newer_store(tmp_path: Path) -> None:
    assert_one_line_error(import_otlp(tmp_path / "t.db", tmp_path / "nope.jsonl"), "no such file")
    src = tmp_path / "spans.jsonl"
    src.write_text(good_lines()[0])
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    assert_one_line_error(import_otlp(newer, src), "newer perfdoctor")


def test_an_absurd_line_is_refused_without_being_read_into_memory(tmp_path: Path) -> None:
    # A 1 MB limit for this folder; the file has a 96 MB line between two good ones.
    (tmp_path / "pyproject.toml").write_text("[tool.perfdoctor]\notlp_max_line_bytes = 1048576\n")
    lines = good_lines()
    big = tmp_path / "big.jsonl"
    with big.open("w") as handle:
        handle.write(lines[0])
        handle.write('{"resourceSpans": [' + " " * (96 * 1024 * 1024) + "]}\n")
        handle.write(lines[1])
    small = tmp_path / "small.jsonl"
    small.write_text(lines[0] + lines[1])

    def peak_kb(src: Path) -> tuple[int, str]:
        code = (
            "import resource, sys\n"
            "from perfdoctor.cli import main\n"
            "try:\n"
            f"    main(['import', 'otlp', {str(src)!r}, '--traces', {str(tmp_path / (src.stem + '.db'))!r}])\n"
            "except SystemExit:\n"
            "    pass\n"
            "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        peak = int(done.stdout.rsplit("PEAK", 1)[1])
        return peak, done.stdout

    baseline, _ = peak_kb(small)
    peak, out = peak_kb(big)
    assert "imported 2 traces" in out
    assert "line longer than the 1 MB limit: 1 (line 2)" in out
    # The 96 MB line never sat in memory: the peak stays within a few MB of a tiny import's.
    assert peak - baseline < 16 * 1024, (peak, baseline)


def test_many_lines_are_streamed(tmp_path: Path) -> None:
    src = tmp_path / "many.jsonl"
    ids = [f"{i + 100:032x}" for i in range(2_000)]
    with src.open("w") as handle:
        for trace_id in ids:
            handle.write(line(n_plus_one(trace_id, repeats=2)))
    traces = tmp_path / "t.db"
    result = import_otlp(traces, src)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("imported 2000 traces (6000 spans)")
    assert store.count_traces(traces) == 2_000


def test_big_files_write_finished_traces_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past PENDING_SPANS held, traces whose root arrived are written and let go; a
    span of one of them that comes later is merged into it."""
    import io

    from perfdoctor.otlp import command
    from perfdoctor.settings import Settings

    monkeypatch.setattr(command, "PENDING_SPANS", 10)
    lines = good_lines()
    late = json.loads(lines[0])
    late_spans = late["resourceSpans"][0]["scopeSpans"][0]["spans"]
    extra = dict(late_spans[-1], spanId="00000000000000ff")
    late["resourceSpans"][0]["scopeSpans"][0]["spans"] = [extra]
    src = tmp_path / "big.jsonl"
    src.write_text("".join(lines) + json.dumps(late) + "\n")
    out = io.StringIO()
    command.run_import([str(src)], tmp_path / "t.db", Settings(), out)
    assert out.getvalue() == f"imported 5 traces (36 spans) from 1 file into {tmp_path / 't.db'}\n"
    spans = {t.id: len(t.spans) for t in store.iter_traces(tmp_path / "t.db")}
    assert spans == {TRACE_IDS[0]: 8, **{t: 7 for t in TRACE_IDS[1:]}}


def test_importing_otlp_needs_no_opentelemetry_package(tmp_path: Path) -> None:
    src = tmp_path / "spans.jsonl"
    src.write_text(good_lines()[0])
    code = (
        "import sys\n"
        "from perfdoctor.cli import main\n"
        "try:\n"
        f"    main(['import', 'otlp', {str(src)!r}, '--traces', {str(tmp_path / 't.db')!r}])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("[]")


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    assert_one_line_error(import_otlp(tmp_path / "t.db", tmp_path), "is not a file")


def test_a_store_path_that_is_not_a_store(tmp_path: Path) -> None:
    src = tmp_path / "spans.jsonl"
    src.write_text(good_lines()[0])
    other = tmp_path / "notes.txt"
    other.write_text("my notes\n")
    assert_one_line_error(import_otlp(other, src), "cannot write the trace store", "not a database")
    assert other.read_text() == "my notes\n"


def _one_request(spans: list[dict[str, object]]) -> str:
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}) + "\n"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (
            _one_request([{"traceId": "xyz", "spanId": "1"}, {"name": "no ids"}]),
            ["nothing could be imported", "span without valid ids or times: 2 (line 1)"],
        ),
        ('{"resourceSpans": []}\n', ["nothing could be imported (no spans in it)"]),
    ],
    ids=["only-bad-spans", "no-spans"],
)
def test_a_file_with_nothing_importable_exits_2_and_keeps_the_store(
    tmp_path: Path, captured_store: Path, content: str, words: list[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    before = captured_store.read_bytes()
    result = import_otlp(captured_store, bad)
    assert_one_line_error(result, str(bad), *words)
    assert result.stdout == ""
    assert captured_store.read_bytes() == before
    # Nor is a store created for nothing.
    assert_one_line_error(import_otlp(tmp_path / "new.db", bad), *words)
    assert not (tmp_path / "new.db").exists()


def test_good_files_are_imported_and_each_unusable_one_named(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text("".join(good_lines()))
    empty = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for path in empty:
        path.write_text('{"resourceSpans": []}\n')
    traces = tmp_path / "t.db"
    result = import_otlp(traces, empty[0], good, empty[1])
    assert result.returncode == 2
    assert result.stdout.startswith("imported 5 traces (35 spans) from 3 files")
    assert result.stderr.splitlines() == [
        f"perfdoctor: error: {path}: nothing could be imported (no spans in it)" for path in empty
    ]
    assert stored_ids(traces) == set(TRACE_IDS)


def test_absurd_values_are_skipped_not_fatal(tmp_path: Path) -> None:
    """Numbers SQLite cannot hold, NaN as text, unknown kinds: counted or ignored."""
    spans = n_plus_one(TRACE_IDS[0])
    spans[0]["kind"] = 10**30
    spans[0]["attributes"].append({"key": "http.status_code", "value": {"doubleValue": "Infinity"}})
    spans[1]["endTimeUnixNano"] = "9" * 30
    spans[2]["startTimeUnixNano"] = "²"
    spans[3]["attributes"].append({"key": "db.response.returned_rows", "value": {"doubleValue": "many"}})
    spans[4]["attributes"].append({"key": "db.response.returned_rows", "value": {"intValue": str(10**40)}})
    src = tmp_path / "odd.jsonl"
    src.write_text(line(spans))
    result = import_otlp(tmp_path / "t.db", src)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "span without valid ids or times: 2 (line 1)" in result.stdout
    assert stored_ids(tmp_path / "t.db") == {TRACE_IDS[0]}
