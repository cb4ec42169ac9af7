"""Other Python interpreters for tests that run an app on them (3.8 to 3.13).

Found as ``pythonX.Y`` on PATH when it runs, else under pyenv's versions folder
(pyenv's shims answer only for the versions selected in the shell). Missing:
skipped on a user's machine, a failure in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def find_python(version: str) -> str | None:
    candidates = [shutil.which(f"python{version}")]
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates += sorted(
        (str(p) for p in Path(root, "versions").glob(f"{version}.*/bin/python{version}")),
        reverse=True,
    )
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", ""], capture_output=True).returncode == 0:
            return candidate
    return None


def python_or_skip(version: str) -> str:
    found = find_python(version)
    if found is None:
        message = f"Python {version} is not installed (pyenv install {version})"
        if os.environ.get("CI"):
            pytest.fail(f"CI: {message}", pytrace=False)
        pytest.skip(message)
    return found
