"""What the matrix tests share: an environment's venv (or a skip), the app copied
out of the tree with its database, and its commands."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import fresh_postgres_database
from tests.matrix.envs import APPS, Env


def venv_python(env: Env, twin: bool = False) -> Path:
    """The environment's interpreter; a skip when it is not built (a failure in CI)."""
    if not env.built(twin):
        message = (
            f"{env.venv(twin).name} is not built, or its pins changed: run `make matrix` "
            f"(or `make test`); it needs python{env.python}"
        )
        if os.environ.get("CI"):
            pytest.fail(f"CI: {message}", pytrace=False)
        pytest.skip(message)
    return env.venv(twin) / "bin" / "python"


@contextlib.contextmanager
def app_copy(env: Env, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """The app in a folder of its own (as a user's project is), and the environment
    its processes run with: its database, and nothing of perfdoctor's."""
    assert env.app is not None, f"{env.name} has no app"
    app = tmp_path / "app"
    shutil.copytree(APPS / env.app, app)
    # Bytecode is written: the venvs are installed without it (--no-compile), and
    # each run would otherwise compile every module it imports.
    variables = {
        k: v for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE") and not k.startswith("PERFDOCTOR_")
    }
    if env.app == "flask_app":
        variables["FLASK_APP"] = "app"
    if env.database == "postgres":
        with fresh_postgres_database(f"mx_{uuid.uuid4().hex[:12]}") as url:
            variables["MX_POSTGRES"] = url.rsplit("/", 1)[1]
            yield app, variables
    else:
        variables["MX_DATABASE"] = str(tmp_path / "app.db")
        yield app, variables


def seed(env: Env, python: Path, app: Path, variables: dict[str, str]) -> None:
    """Create the app's tables and rows with the environment's interpreter, and
    check it runs the versions the environment pins."""
    result = subprocess.run(
        [str(python), "seed.py"], cwd=app, env=variables, capture_output=True, text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    ran = json.loads(result.stdout.strip().splitlines()[-1])
    assert ran.pop("python") == env.python
    assert ran == {package: env.pin(package) for package in ran}


def server_command(env: Env, python: Path, port: int) -> list[str]:
    bind = f"127.0.0.1:{port}"
    if env.server == "runserver":
        return [str(python), "manage.py", "runserver", bind, "--noreload"]
    if env.server == "flask":
        return [str(python.parent / "flask"), "run", "--host", "127.0.0.1",
                "--port", str(port), "--no-reload"]
    target = "mxsite.wsgi:application" if env.app == "django_app" else "app:app"
    return [str(python.parent / "gunicorn"), "-b", bind, "-w", "2", target]


def n_plus_one_site(env: Env, app: Path) -> tuple[str, int]:
    """The app's file and line that loads one author per book (marked ``# N+1``)."""
    relative = "shop/views.py" if env.app == "django_app" else "app.py"
    lines = (app / relative).read_text().splitlines()
    [line] = [n for n, text in enumerate(lines, start=1) if text.endswith("# N+1")]
    return relative, line


def expected_fix(env: Env) -> str:
    """The fix names the real relation, in the app's ORM."""
    return 'select_related("author")' if env.app == "django_app" else "joinedload(Book.author)"


def freeze(path: Path) -> dict[str, str]:
    """``pip freeze`` output as name → version (a direct reference: its URL)."""
    packages = {}
    for line in path.read_text().splitlines():
        if " @ " in line:
            name, _, version = line.partition(" @ ")
        elif "==" in line:
            name, _, version = line.partition("==")
        else:
            continue
        packages[name.strip().lower().replace("_", "-")] = version.strip()
    return packages
