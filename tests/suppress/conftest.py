"""The shop app (``tests/suppress/shop``) copied into a project folder and captured.

Each test gets its own copy, so it can write a pyproject.toml beside it and add
``# perfdoctor: ignore`` comments to the copy's lines without recapturing: the
comments are read when the report is made.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.capture.apps_support import app_env
from tests.conftest import run_perfdoctor

SHOP = Path(__file__).parent / "shop"
API_POSTS = "GET /api/posts"
ADMIN_POSTS = "GET /admin/posts"
API_COMMENTS = "GET /api/comments"


@dataclass
class Project:
    root: Path

    def capture(self, *endpoints: str, traces: str = "traces.db") -> Path:
        path = self.root / traces
        result = subprocess.run(
            [sys.executable, "-m", "shop.run", str(path), *endpoints],
            cwd=self.root, env=app_env(), capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return path

    def pyproject(self, text: str) -> None:
        (self.root / "pyproject.toml").write_text(text, encoding="utf-8")

    def comment(self, relative: str, contains: str, comment: str) -> None:
        """Append ``comment`` to the one line of the copy's ``relative`` holding ``contains``."""
        path = self.root / "shop" / relative
        lines = path.read_text(encoding="utf-8").splitlines()
        [index] = [i for i, line in enumerate(lines) if contains in line]
        lines[index] += "  " + comment
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def report(self, *args: str, traces: str = "traces.db") -> subprocess.CompletedProcess[str]:
        return run_perfdoctor("report", "--traces", traces, *args, cwd=self.root, env=app_env())

    def report_json(self, *args: str, traces: str = "traces.db") -> dict[str, Any]:
        result = self.report("--format", "json", *args, traces=traces)
        assert result.returncode == 0, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        return data


def shown(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(id, endpoint) of every finding the report shows, sorted."""
    return sorted((f["id"], f["endpoint"]) for f in report["findings"])


N1 = "n-plus-one-query"
ALL_THREE = sorted([(N1, ADMIN_POSTS), (N1, API_COMMENTS), (N1, API_POSTS)])


@pytest.fixture
def project(tmp_path: Path) -> Project:
    shutil.copytree(SHOP, tmp_path / "shop", ignore=shutil.ignore_patterns("__pycache__"))
    return Project(tmp_path)


@pytest.fixture
def captured(project: Project) -> Project:
    """Every endpoint captured once; with no ignore, three N+1 findings (ALL_THREE)."""
    project.capture()
    return project
