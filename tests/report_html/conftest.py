"""One real demo run for the whole directory: capture is the expensive part."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.demo.support import SharedDemo
from tests.report_html.support import Report, compare_result, html_report


@pytest.fixture(scope="session")
def demo_traces(shared_demo: SharedDemo) -> Path:
    return shared_demo.traces_path


@pytest.fixture(scope="session")
def demo_report(demo_traces: Path, tmp_path_factory: pytest.TempPathFactory) -> Report:
    """The demo's traces reported as HTML with a before/after and budgets."""
    folder = tmp_path_factory.mktemp("html-report")
    return html_report(demo_traces, folder, compare_result(folder))
