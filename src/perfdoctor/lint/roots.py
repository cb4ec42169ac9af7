"""The project a linted file belongs to, and the files of it the rules read as context.

``perfdoctor lint app/views.py`` must know the project's models and settings as
``perfdoctor lint .`` does. The project root is found as ruff finds its
configuration: the nearest folder, from the file upward, holding one of
:data:`MARKERS`. Its models and settings modules are then read (parsed once, never
reported on) along with the files asked for.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", "manage.py", ".git")
# Installed packages are not the user's project: a file there has no root.
_INSTALLED = {"site-packages", "dist-packages"}
SKIP_DIRS = {".git", ".hg", ".venv", "venv", "__pycache__", "node_modules", ".tox", ".mypy_cache"}
# Text a file must hold for the rules to need it: models and settings.
CONTEXT_HINTS = (
    "models.Model",
    "Field(",
    "relationship(",
    "mapped_column(",
    "Column(",
    "DATABASES",
    "CACHES",
    "CONN_MAX_AGE",
    "conn_max_age",
)


class Roots:
    """Project roots, found once per folder."""

    def __init__(self) -> None:
        self._cache: dict[Path, Path | None] = {}
        # The same, by the folder as given (most files share one: no resolve() each).
        self._given: dict[Path, Path | None] = {}

    def of(self, path: Path) -> Path | None:
        return self.of_folder(path if path.is_dir() else path.parent)

    def of_folder(self, given: Path) -> Path | None:
        if given in self._given:
            return self._given[given]
        # abspath, not resolve(): no system call per folder (a symlinked project
        # is found through its link).
        root = self._find(Path(os.path.abspath(given)))
        self._given[given] = root
        return root

    def _find(self, folder: Path) -> Path | None:
        walked: list[Path] = []
        root: Path | None = None
        for candidate in (folder, *folder.parents):
            if candidate in self._cache:
                root = self._cache[candidate]
                break
            walked.append(candidate)
            if candidate.name in _INSTALLED:
                break
            if any((candidate / marker).exists() for marker in MARKERS):
                root = candidate
                break
        for seen in walked:  # all below the root (or rootless): the same answer
            self._cache[seen] = root
        return root


def context_files(roots: Iterable[Path], asked: Sequence[Path]) -> list[Path]:
    """The models and settings modules of each root outside the ``asked`` paths."""
    inside = [Path(os.path.abspath(p)) for p in asked]
    found: list[Path] = []
    for root in sorted(set(roots)):
        if any(root.is_relative_to(p) for p in inside if p.is_dir()):
            continue  # the whole project is linted already
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            base = Path(folder)
            if any(base.is_relative_to(p) for p in inside if p.is_dir()):
                dirs[:] = []
                continue
            for name in sorted(files):
                path = base / name
                if name.endswith(".py") and path not in inside and _is_context(path):
                    found.append(path)
    return found


def _is_context(path: Path) -> bool:
    if path.name == "models.py" or path.parent.name == "models":
        return True
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(hint in text for hint in CONTEXT_HINTS)
