"""Build the version matrix's venvs (tests/matrix/envs.py says which and with what).

    python scripts/matrix.py            # the environments PERFDOCTOR_MATRIX selects
    PERFDOCTOR_MATRIX=all python scripts/matrix.py

A venv whose stamp matches its definition is left alone; one whose pins changed
is removed and made again.  An interpreter that is missing (``python3.9`` on
PATH, or a pyenv version) skips its environments with a note, and so does a
failed install, unless ``CI`` is set: then the build fails.  Installs go through
pip's cache, so a rebuild downloads nothing new.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import tomllib

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.interpreters import find_python
from tests.matrix.envs import HOME, PIP, ROOT, STAMP, Env, perfdoctor_stamp, selected

# Several environments are made at once: pip waits on the network and the disk.
JOBS = 3


class Failed(Exception):
    pass


def run(*command: str | Path, log: list[str], cwd: Path | None = None) -> str:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd)
    # pip's warnings (an unreachable extra index, say) would bury its error.
    log += [line for line in result.stderr.splitlines() if not line.startswith("WARNING:")]
    if result.returncode != 0:
        raise Failed(f"{' '.join(map(str, command))} exited with {result.returncode}")
    return result.stdout


def pip_tool() -> Path:
    """A venv holding only pip, used with --python for every environment."""
    home = HOME / ".pip"
    if (home / STAMP).exists() and (home / STAMP).read_text().strip() == PIP:
        return home / "bin" / "pip"
    shutil.rmtree(home, ignore_errors=True)
    log: list[str] = []
    run(sys.executable, "-m", "venv", home, log=log)
    run(home / "bin" / "python", "-m", "pip", "install", "--quiet", PIP, log=log)
    (home / STAMP).write_text(PIP + "\n")
    return home / "bin" / "pip"


def editable_wheel(pip: Path) -> Path:
    """perfdoctor as an editable wheel, built once for every twin.

    It holds the metadata (dependencies, entry points) and a .pth naming this
    tree's src/, as ``pip install -e`` would make in each twin, without a build
    environment per twin.  It depends on pyproject.toml alone: the code it
    points to is read at run time.
    """
    system = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]
    key = perfdoctor_stamp()
    out = HOME / ".wheel"
    wheels = list(out.glob("*.whl"))
    if len(wheels) == 1 and (out / STAMP).exists() and (out / STAMP).read_text().strip() == key:
        return wheels[0]
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    log: list[str] = []
    run(pip, "install", "--quiet", *system["requires"], log=log)
    backend = (
        "import importlib, sys; backend = importlib.import_module(sys.argv[1]); "
        "print(backend.build_editable(sys.argv[2]))"
    )
    python = pip.parent / "python"
    name = run(python, "-c", backend, system["build-backend"], out, log=log, cwd=ROOT)
    wheel = out / name.strip().splitlines()[-1]
    if not wheel.name.endswith("-py3-none-any.whl"):
        wheel = _any_python(wheel)
    (out / STAMP).write_text(key + "\n")
    return wheel


def _any_python(wheel: Path) -> Path:
    """The editable wheel tagged for every Python.  Built with the C speedups, it is
    tagged for the building interpreter alone, but holds none of them: they are
    compiled into src/, beside the code its .pth names, and a twin's Python
    imports them only where they were built for it."""
    parts = wheel.name[: -len(".whl")].split("-")
    renamed = wheel.with_name("-".join([*parts[:-3], "py3", "none", "any"]) + ".whl")
    deflated = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(renamed, "w", deflated) as target:
        names = source.namelist()
        metadata = next(n for n in names if n.endswith(".dist-info/WHEEL"))
        record = next(n for n in names if n.endswith(".dist-info/RECORD"))
        lines = source.read(metadata).decode().splitlines()
        replaced = ("Tag:", "Root-Is-Purelib:")
        lines = [line for line in lines if line and not line.startswith(replaced)]
        lines += ["Root-Is-Purelib: true", "Tag: py3-none-any"]
        described = ("\n".join(lines) + "\n").encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(described).digest()).rstrip(b"=")
        entry = f"{metadata},sha256={digest.decode()},{len(described)}"
        rows = [
            entry if row.startswith(metadata + ",") else row
            for row in source.read(record).decode().splitlines()
        ]
        for name in names:
            if name == metadata:
                target.writestr(name, described)
            elif name == record:
                target.writestr(name, "\n".join(rows) + "\n")
            else:
                target.writestr(name, source.read(name))
    wheel.unlink()
    return renamed


def compile_perfdoctor(python: str) -> None:
    """perfdoctor's modules compiled for an interpreter that imports them in every
    test (capture, the pytest plugin, the CLI): where PYTHONDONTWRITEBYTECODE is
    set nothing else writes them, and each process would compile them anew."""
    run(python, "-m", "compileall", "-q", ROOT / "src" / "perfdoctor", log=[])


def build(env: Env, pip: Path, python: str, wheel: Path) -> list[str]:
    compile_perfdoctor(python)
    done = []
    bare, twin = env.venv(), env.venv(twin=True)
    steps = [(bare, _bare), (twin, _twin)] if env.app else [(bare, _bare)]
    for venv, make in steps:
        if env.built(venv == twin):
            done.append(f"{venv.name}: up to date")
            continue
        started = time.monotonic()
        shutil.rmtree(venv, ignore_errors=True)
        log: list[str] = []
        try:
            make(env, pip, python, wheel, log)
        except Failed as exc:
            shutil.rmtree(venv, ignore_errors=True)
            raise Failed(f"{venv.name}: {exc}\n" + "\n".join(log[-20:])) from None
        (venv / STAMP).write_text(env.stamp(venv == twin) + "\n")
        took = time.monotonic() - started
        done.append(f"{venv.name}: built in {took:.0f}s (Python {env.python})")
    return done


def _bare(env: Env, pip: Path, python: str, wheel: Path, log: list[str]) -> None:
    # No pip inside: the app's venv holds the app's packages and nothing else.
    venv = env.venv()
    run(python, "-m", "venv", "--without-pip", venv, log=log)
    run(pip, "--python", venv / "bin" / "python", "install", "--quiet", "--no-compile",
        *env.requirements, log=log)


def _twin(env: Env, pip: Path, python: str, wheel: Path, log: list[str]) -> None:
    """The app's venv copied (the same pins, without installing them again), then
    perfdoctor installed into it, with ``pip freeze`` before and after."""
    bare, twin = env.venv(), env.venv(twin=True)
    shutil.copytree(bare, twin, symlinks=True, ignore=shutil.ignore_patterns(STAMP))
    # Scripts and pyvenv.cfg name their venv: point them at the copy.
    old, new = str(bare).encode() + b"/", str(twin).encode() + b"/"
    for path in [twin / "pyvenv.cfg", *(twin / "bin").iterdir()]:
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if old in data:
                path.write_bytes(data.replace(old, new))
    target = twin / "bin" / "python"
    freeze = [pip, "--python", target, "freeze"]
    (twin / "freeze-before.txt").write_text(run(*freeze, log=log))
    run(pip, "--python", target, "install", "--quiet", "--no-compile", wheel, log=log)
    (twin / "freeze-after.txt").write_text(run(*freeze, log=log))


def build_all(jobs: list[tuple[Env, str]]) -> list[str]:
    """Build each environment (with its interpreter); what went wrong."""
    try:
        pip = pip_tool()
        wheel = editable_wheel(pip)
        compile_perfdoctor(sys.executable)
    except Failed as exc:
        return [f"pip and perfdoctor's wheel: {exc}"]
    problems = []
    with ThreadPoolExecutor(JOBS) as pool:
        futures = [pool.submit(build, env, pip, python, wheel) for env, python in jobs]
        for future in futures:
            try:
                for line in future.result():
                    print(f"matrix: {line}", flush=True)
            except Failed as exc:
                problems.append(str(exc))
    return problems


def main() -> int:
    try:
        envs = selected()
    except ValueError as exc:
        print(f"matrix: {exc}", file=sys.stderr)
        return 2
    ci = bool(os.environ.get("CI"))
    problems: list[str] = []
    jobs = []
    pythons = {v: find_python(v) for v in sorted({e.python for e in envs})}
    for env in envs:
        python = pythons[env.python]
        if python is None:
            problems.append(
                f"{env.name}: no Python {env.python} (python{env.python} on PATH or a "
                f"pyenv install): its tests skip; install it to run them"
            )
            continue
        jobs.append((env, python))
    if jobs:
        problems += build_all(jobs)
    for problem in problems:
        print(f"matrix: {problem}", file=sys.stderr)
    return 1 if problems and ci else 0


if __name__ == "__main__":
    sys.exit(main())
