"""The spool beside a store: traces set aside there reach the store, exactly once."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from pathlib import Path

from perfdoctor import store
from perfdoctor.model import Location, Span, Trace
from perfdoctor.store import spool
from tests.conftest import run_perfdoctor
from tests.reliability.support import names_in, requests_of


def _trace(i: int) -> Trace:
    here = Location("/app/views.py", 10, "view")
    span = Span(
        kind="db", start_ms=0.5, duration_ms=1.0, location=here, stack=[here],
        framework="flask", system="sqlite", statement="SELECT * FROM t WHERE id = ?",
        fingerprint="fp1", params_digest=f"d{i}", rows=1, connection_id=1,
    )
    return Trace(id=f"spooled-{i}", name="GET /spooled", kind="http", started_at=100.0 + i,
                 duration_ms=2.0, status=200, pid=1, spans=[span])


def _set_aside(traces: Path, ids: range) -> Path:
    batch = store.batch_of(_trace(i) for i in ids)
    fields = {f.name: getattr(batch, f.name) for f in dataclasses.fields(batch)}
    return spool.set_aside(traces, store.SCHEMA_VERSION, len(batch.traces), fields)


def _report(traces: Path, tmp_path: Path) -> tuple[dict[str, object], str]:
    result = run_perfdoctor("report", "--traces", str(traces), "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_spooled_traces_reach_the_store_once_even_if_two_readers_merge_them(
    tmp_path: Path,
) -> None:
    traces = tmp_path / "traces.db"
    store.open_for_writing(traces).close()
    first = _set_aside(traces, range(3))
    _set_aside(traces, range(3, 5))
    assert [spool.count(file) for file in spool.files(traces)] == [3, 2]
    kept = tmp_path / "copy"
    shutil.copy(first, kept)

    report, stderr = _report(traces, tmp_path)
    assert requests_of(report, "GET /spooled") == 5
    assert stderr == ""
    assert not spool.folder(traces).exists()
    # A second reader that read the first file before it was removed adds it again.
    spool.folder(traces).mkdir()
    shutil.copy(kept, first)
    assert store.merge_spool(traces) == 3
    assert sorted(names_in(traces)) == ["GET /spooled"] * 5
    assert store.unstored(traces).lost == 0


def test_a_spool_file_that_cannot_be_used_is_counted_as_lost(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    store.open_for_writing(traces).close()
    _set_aside(traces, range(2))
    folder = spool.folder(traces)
    (folder / f"1-2-0-4{spool.BATCH}").write_text("{ half a file")
    newer = _set_aside(traces, range(10, 17))
    data = json.loads(newer.read_text())
    newer.write_text(json.dumps({**data, "schema": store.SCHEMA_VERSION + 1}))

    report, stderr = _report(traces, tmp_path)
    assert requests_of(report, "GET /spooled") == 2
    assert "perfdoctor: 11 captured trace(s) could not be stored" in stderr, stderr
    assert spool.files(traces) == []
    # Counted once: later reports say the same.
    assert _report(traces, tmp_path)[1] == stderr


def test_bytes_in_a_row_survive_the_spool(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    row = ("id", b"\x00\xffbinary", "text", 1.5, None, 3)
    file = spool.set_aside(traces, 7, 1, {"traces": [row], "stacks": {"s": "frames"}})
    assert spool.read_batch(file) == (7, {"traces": [row], "stacks": {"s": "frames"}})


def test_run_clear_empties_the_spool_too(tmp_path: Path) -> None:
    traces = tmp_path / "traces.db"
    store.open_for_writing(traces).close()
    _set_aside(traces, range(3))
    result = run_perfdoctor(
        "run", "--clear", "--traces", str(traces), "--", sys.executable, "-c", "pass",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert not spool.folder(traces).exists()
    assert names_in(traces) == []
