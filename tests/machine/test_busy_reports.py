"""A busy-machine finding reads as one in every report format; a quiet one reads as before."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from perfdoctor import store
from perfdoctor.cli import main
from perfdoctor.model import Trace
from tests.machine.support import BUSY, QUIET, capture, on_machine

BUSY_SAID = (
    "machine busy: measured while the machine was busy (load average up to 4.6 on 2 CPUs, "
    "CPU pressure up to 63 %; 3 of 3 requests over the budget): those requests took"
)


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> list[Trace]:
    return capture(tmp_path_factory.mktemp("reports") / "traces.db", ["/nap"])


def _store(folder: Path, traces: list[Trace]) -> Path:
    path = folder / "traces.db"
    conn = store.open_for_writing(path)
    try:
        store.write_traces(conn, traces)
    finally:
        conn.close()
    (folder / "pyproject.toml").write_text("[tool.perfdoctor]\nslow_endpoint_p95_ms = 10\n")
    return path


def _report(folder: Path, *args: str) -> str:
    out = CliRunner().invoke(main, ["report", "--traces", str(folder / "traces.db"), *args])
    assert out.exit_code == 0, out.output
    return out.stdout


def _flat(text: str) -> str:
    """The terminal report with its panel borders and line wraps taken out."""
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", text))


@pytest.fixture
def busy(tmp_path: Path, captured: list[Trace], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    _store(tmp_path, on_machine(captured, BUSY))
    return tmp_path


def test_the_terminal_report_says_the_machine_was_busy(busy: Path) -> None:
    text = _report(busy)
    flat = _flat(text)
    assert "GET /nap: p95" in flat and "mostly python (machine busy)" in flat
    assert BUSY_SAID in flat
    assert "fix: Measure again on a quiet machine first" in flat
    assert "cpu p50:" in flat
    assert "waiting: " in flat and "on a busy machine that is waiting for a CPU" in flat
    # The caveat comes before the fix, right under the numbers.
    lines = [line for line in text.splitlines() if line.strip("│ ")]
    said = next(i for i, line in enumerate(lines) if "machine busy: measured" in line)
    assert "p50:" in lines[said - 1] or "cpu p50:" in lines[said - 1]


def test_json_markdown_and_html_carry_the_same_sentence(busy: Path) -> None:
    report = json.loads(_report(busy, "--format", "json"))
    [finding] = [f for f in report["findings"] if f["id"] == "slow-endpoint"]
    assert finding["title"].endswith("(machine busy)")
    sentence = finding["evidence"]["busy_machine"]
    assert sentence.startswith(BUSY_SAID.removeprefix("machine busy: "))
    assert finding["evidence"]["machine"]["cpu_pressure_max"] == 63.0

    markdown = _report(busy, "--format", "markdown")
    assert f"**machine busy:** {sentence}\n" in markdown
    assert "(machine busy)" in markdown

    _report(busy, "--format", "html", "-o", str(busy / "report.html"))
    page = (busy / "report.html").read_text(encoding="utf-8")
    assert html.escape(sentence, quote=False) in page or html.escape(sentence) in page


def test_a_quiet_machine_reads_as_before(
    tmp_path: Path, captured: list[Trace], monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = []
    for name, machine in (("quiet", QUIET), ("unknown", None)):
        folder = tmp_path / name
        folder.mkdir()
        _store(folder, on_machine(captured, machine))
        monkeypatch.chdir(folder)  # its pyproject.toml's budget
        texts.append(_report(folder))
    quiet_text, unknown_text = texts
    assert "GET /nap: p95" in quiet_text
    assert "machine busy" not in quiet_text
    # Only the off-CPU line words what is known of the machine.
    assert _without_waiting(quiet_text) == _without_waiting(unknown_text)
    assert "the machine was not busy" in _flat(quiet_text)


def _without_waiting(text: str) -> str:
    flat = _flat(text)
    return re.sub(r"waiting: .*? fix:", "fix:", flat)
