"""``bench --baseline-ref REF``: the app as it was at a git commit, beside the current one.

The commit's files are exported (``git archive``) into a temporary directory; the
repository and its work tree are not touched. Files git does not track (a SQLite
database, ``.env``, media, a virtualenv) are linked in from the work tree, so the
old code runs on the same data as the new one. The worker of the old side imports
the app from there, with the same working directory as the new side.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from perfdoctor.errors import UsageError


def _git(*args: str, cwd: Path) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
        )
    except FileNotFoundError:
        raise UsageError("--baseline-ref needs git on PATH") from None
    if done.returncode != 0:
        raise UsageError(f"--baseline-ref: git {args[0]} failed: {done.stderr.strip()}")
    return done.stdout


class Baseline:
    """The exported tree; :attr:`root` is where the old side imports the app from."""

    def __init__(self, ref: str, cwd: Path | None = None) -> None:
        here = (cwd or Path.cwd()).resolve()
        top = Path(_git("rev-parse", "--show-toplevel", cwd=here).strip())
        try:
            commit = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=here).strip()
        except UsageError:
            raise UsageError(f"--baseline-ref: no commit {ref!r} in {top}") from None
        self.ref = ref
        self.commit = commit
        self.tmp = Path(tempfile.mkdtemp(prefix="perfdoctor-baseline-"))
        tree = self.tmp / "tree"
        try:
            archive = subprocess.run(
                ["git", "archive", "--format=tar", commit],
                cwd=top,
                capture_output=True,
                timeout=300,
                check=True,
            ).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(tree, filter="data")
                else:  # Python < 3.11.4: git's own archive of the user's own commit
                    tar.extractall(tree)
            self._link_untracked(top, tree)
        except (subprocess.CalledProcessError, tarfile.TarError, OSError) as exc:
            self.close()
            raise UsageError(f"--baseline-ref {ref}: cannot export the commit: {exc}") from None
        self.root = str(tree / here.relative_to(top))
        # The exported tree's top, and the repository's it stands for.
        self.tree = str(tree)
        self.top = str(top)

    @staticmethod
    def _link_untracked(top: Path, tree: Path) -> None:
        listed = _git(
            "ls-files", "--others", "--directory", "--no-empty-directory", "-z", cwd=top
        ).split("\0")
        for entry in filter(None, listed):
            name = entry.rstrip("/")
            if name.split("/")[-1] in ("__pycache__", ".git") or name.endswith(".pyc"):
                continue
            target = tree / name
            if target.exists() or target.is_symlink():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(top / name, target)

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
