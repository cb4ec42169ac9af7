"""A real store captured once per module, and a fresh copy of it for each test to damage."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.damaged_stores import capture_store, copy_store


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return capture_store(tmp_path_factory.mktemp("captured") / "traces.db")


@pytest.fixture
def traces(captured: Path, tmp_path: Path) -> Path:
    return copy_store(captured, tmp_path)
