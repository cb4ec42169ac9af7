"""The ``pytest11`` entry point: loads the plugin (``pytest_plugin``) on a pytest it runs on.

pytest imports every installed plugin at start-up, asked for or not.  The plugin
needs pytest 7.0 (``Stash``, ``file_path`` hook arguments) and pluggy 1.1
(``wrapper=True``); imported by an older one it would stop every pytest run in a
venv where perfdoctor is installed, an app's pinned pytest 6 included.  There,
this module only says so when perfdoctor's options or fixtures are used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import pytest

_NEEDS = "perfdoctor's pytest plugin needs pytest 7.0 or newer (with pluggy 1.1 or newer)"


def _supported() -> bool:
    if not hasattr(pytest, "StashKey"):
        return False
    try:
        pytest.hookimpl(wrapper=True)
    except TypeError:  # pluggy before 1.1
        return False
    return True


def _refusal() -> str:
    return (
        f"{_NEEDS}; this venv has pytest {pytest.__version__}: upgrade pytest, or capture "
        "the app with `perfdoctor run` from perfdoctor's own venv"
    )


if _supported():
    pytest_plugins = ["perfdoctor.pytest_plugin"]
else:

    def pytest_addoption(parser: Any) -> None:
        # The options stay known, so a command line that uses them gets the
        # reason below rather than "unrecognized arguments".
        group = parser.getgroup("perfdoctor", "perfdoctor: performance findings per test")
        group.addoption("--perfdoctor", action="store_true", default=False, help=_NEEDS)
        group.addoption("--perfdoctor-traces", metavar="PATH", default=None, help=_NEEDS)
        group.addoption("--perfdoctor-fail-on", default=None, help=_NEEDS)

    def pytest_configure(config: Any) -> None:
        config.addinivalue_line("markers", f"perf_budget: {_NEEDS}")
        if config.getoption("perfdoctor") or config.getoption("perfdoctor_fail_on"):
            raise pytest.UsageError(_refusal())

    def _unavailable() -> NoReturn:
        pytest.fail(_refusal(), pytrace=False)

    @pytest.fixture
    def assert_max_queries() -> Callable[..., Any]:
        return _unavailable()

    @pytest.fixture
    def assert_no_n_plus_one() -> Callable[..., Any]:
        return _unavailable()
