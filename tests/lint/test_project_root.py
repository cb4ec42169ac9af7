"""One file linted alone knows its project's models and settings as the whole tree does."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfdoctor.lint import lint_paths
from perfdoctor.lint.config import LintConfig
from perfdoctor.lint.roots import Roots

PROJECT = Path(__file__).parent / "fixtures" / "project"


def _by_file(paths: list[Path], context: bool = True) -> dict[str, set[tuple[str, int]]]:
    found: dict[str, set[tuple[str, int]]] = {}
    for f in lint_paths(paths, LintConfig(), context=context).findings:
        found.setdefault(str(Path(f.path).resolve()), set()).add((f.code, f.line))
    return found


@pytest.mark.parametrize(
    "name", ["shop/views.py", "shop/models.py", "conf/settings/base.py", "manage.py"]
)
def test_one_file_alone_finds_what_the_whole_project_finds(name: str) -> None:
    path = PROJECT / name
    whole = _by_file([PROJECT]).get(str(path.resolve()), set())
    assert _by_file([path]) == ({str(path.resolve()): whole} if whole else {})


def test_without_the_project_the_file_alone_is_blind_to_its_models() -> None:
    views = PROJECT / "shop" / "views.py"
    assert _by_file([views]) == {str(views.resolve()): {("PD101", 7)}}
    assert _by_file([views], context=False) == {}


def test_settings_set_in_another_module_of_the_project_silence_pd501() -> None:
    base = PROJECT / "conf" / "settings" / "base.py"
    assert _by_file([base]) == {}
    # Without the project, base.py alone has no CONN_MAX_AGE.
    assert _by_file([base], context=False) == {str(base.resolve()): {("PD501", 2)}}


def test_only_the_paths_asked_are_reported_on(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "settings.py").write_text('DATABASES = {"default": {"ENGINE": "x.mysql"}}\n')
    (tmp_path / "app.py").write_text("import requests\nrequests.get('u')\n")
    result = lint_paths([tmp_path / "app.py"], LintConfig())
    assert [(Path(f.path).name, f.code) for f in result.findings] == [("app.py", "PD201")]


def test_root_is_the_nearest_folder_with_a_marker(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("")
    inner = tmp_path / "services" / "api"
    (inner / "app").mkdir(parents=True)
    (inner / "pyproject.toml").write_text("")
    (inner / "app" / "views.py").write_text("")
    roots = Roots()
    assert roots.of(inner / "app" / "views.py") == inner.resolve()
    assert roots.of(tmp_path / "services") == tmp_path.resolve()
