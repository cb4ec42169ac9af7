"""``perfdoctor run -- COMMAND``: start a command with capture on in every Python process.

The bootstrap folder holding our ``sitecustomize`` goes first on ``PYTHONPATH``,
so each Python interpreter the command starts (servers, their workers, child
scripts) switches capture on at start-up, the way ``opentelemetry-instrument``
works.  Nothing in the user's code changes.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from perfdoctor import store
from perfdoctor.capture.auto import ENV_CAPTURE_PARAMS, ENV_ENABLED, ENV_MEMORY, ENV_PROFILE
from perfdoctor.capture.privacy import ENV_DIGEST_KEY
from perfdoctor.errors import UsageError

BOOTSTRAP_DIR = Path(__file__).resolve().parent / "_bootstrap"


def capture_environment(
    traces: Path,
    capture_params: bool = False,
    base: dict[str, str] | None = None,
    memory: bool = False,
    profile: bool = False,
) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    existing = env.get("PYTHONPATH", "")
    parts = [str(BOOTSTRAP_DIR)]
    # perfdoctor itself must be importable by the command's interpreter even when
    # that is not the one perfdoctor was installed in (e.g. a system gunicorn).
    package_root = str(Path(__file__).resolve().parent.parent)
    if not _importable_without(package_root):
        parts.append(package_root)
    if existing:
        parts.append(existing)
    env["PYTHONPATH"] = os.pathsep.join(parts)
    env[ENV_ENABLED] = "1"
    env[store.ENV_PATH] = str(traces.absolute())
    # One digest key for every process of the run (kept if an outer run set one).
    env.setdefault(ENV_DIGEST_KEY, secrets.token_hex(16))
    if capture_params:
        env[ENV_CAPTURE_PARAMS] = "1"
    if memory:
        env[ENV_MEMORY] = "1"
    if profile:
        env[ENV_PROFILE] = "1"
    return env


def _importable_without(package_root: str) -> bool:
    # An installed (non-editable) perfdoctor lives in site-packages: putting
    # site-packages on PYTHONPATH would leak every other package into the child.
    return os.path.basename(package_root) in ("site-packages", "dist-packages")


def run(
    command: Sequence[str],
    traces: Path,
    capture_params: bool = False,
    memory: bool = False,
    profile: bool = False,
) -> int:
    """Run ``command`` to completion under capture; returns its exit code."""
    if not command:
        raise UsageError(
            "nothing to run: give a command after --, e.g. perfdoctor run -- python app.py"
        )
    env = capture_environment(traces, capture_params, memory=memory, profile=profile)
    try:
        process = subprocess.Popen(list(command), env=env)
    except FileNotFoundError:
        raise UsageError(f"command not found: {command[0]}") from None
    except PermissionError:
        raise UsageError(f"cannot execute {command[0]}: permission denied") from None
    # Ctrl-C reaches the child through the terminal; we only wait for it to
    # finish so its last traces are written before we return.
    previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A supervisor stopping us (SIGTERM) stops the command the same way.
    previous_term = signal.signal(signal.SIGTERM, lambda *_: process.send_signal(signal.SIGTERM))
    try:
        code = process.wait()
        # A command killed by a signal exits as a shell reports it (SIGTERM: 143),
        # not as sys.exit(-15), which would be 241.
        return 128 - code if code < 0 else code
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)


def python_command() -> list[str]:
    return [sys.executable]
