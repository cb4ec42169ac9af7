"""pytester, to run the sample suites in a subprocess.

``pytest_plugins = ["pytester"]`` is refused in a conftest below the rootdir
(pytest: "Defining 'pytest_plugins' in a non-top-level conftest is no longer
supported") and the shared tests/conftest.py is not this folder's to change,
so the fixture is built here the way pytester's own plugin builds it.
"""

from __future__ import annotations

import pytest
from _pytest.pytester import Pytester


@pytest.fixture
def pytester(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Pytester:
    # The option pytester's plugin would add (`--runpytest`, default "inprocess");
    # every run here is runpytest_subprocess anyway.
    monkeypatch.setattr(request.config.option, "--runpytest", "inprocess", raising=False)
    return Pytester(request, tmp_path_factory, monkeypatch, _ispytest=True)
