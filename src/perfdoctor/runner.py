"""``perfdoctor run -- COMMAND``: start a command with capture on in every Python process.

The bootstrap folder holding our ``sitecustomize`` goes first on ``PYTHONPATH``,
so each Python interpreter the command starts (servers, their workers, child
scripts) switches capture on at start-up, the way ``opentelemetry-instrument``
works.  Nothing in the user's code changes.

The command's interpreter may be another venv's, or another Python version,
than the one perfdoctor is installed in (a CLI installed with pipx, an app
pinned to Python 3.9).  Capture imports only the standard library, so the
bootstrap imports the ``perfdoctor`` package from where it lies, without putting
perfdoctor's own site-packages on the path, whose dependencies would shadow the
app's.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from perfdoctor import store
from perfdoctor.capture.auto import (
    ENV_CAPTURE_PARAMS,
    ENV_ENABLED,
    ENV_MEMORY,
    ENV_PROFILE,
    ENV_STATUS_DIR,
)
from perfdoctor.capture.privacy import ENV_DIGEST_KEY
from perfdoctor.capture.recorder import ENV_EXIT_TIMEOUT
from perfdoctor.capture.sampling import (
    ENV_SAMPLE,
    ENV_SAMPLE_BUDGETS,
    ENV_SAMPLE_SLOW_MS,
    ENV_SAMPLE_TAIL,
)
from perfdoctor.capture.server_timing import ENV_SERVER_TIMING
from perfdoctor.errors import UsageError
from perfdoctor.store import retention

if TYPE_CHECKING:
    from perfdoctor.live.tail import Tail
    from perfdoctor.settings import Settings

PACKAGE_DIR = Path(__file__).resolve().parent
BOOTSTRAP_DIR = PACKAGE_DIR / "_bootstrap"
# `run` exits with this when capture could not start and nothing was captured
# (and the command itself succeeded): a script must not take "no findings" for
# "nothing wrong".
EXIT_NOTHING_CAPTURED = 3


def capture_environment(
    traces: Path,
    capture_params: bool = False,
    base: dict[str, str] | None = None,
    memory: bool = False,
    profile: bool = False,
    status_dir: Path | None = None,
    exit_timeout: float | None = None,
    max_store_mb: float | None = None,
    sample: float | None = None,
    sample_slow_ms: float | None = None,
    sample_budgets: dict[str, float] | None = None,
    server_timing: bool = False,
    sample_tail: str | None = None,
) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    existing = env.get("PYTHONPATH", "")
    parts = [str(BOOTSTRAP_DIR)]
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
    if status_dir is not None:
        env[ENV_STATUS_DIR] = str(status_dir)
    if exit_timeout is not None:
        env[ENV_EXIT_TIMEOUT] = repr(float(exit_timeout))
    if max_store_mb is not None:
        env[retention.ENV_MAX_STORE_MB] = repr(float(max_store_mb))
    if sample is not None:
        env[ENV_SAMPLE] = repr(float(sample))
    if sample_slow_ms is not None:
        env[ENV_SAMPLE_SLOW_MS] = repr(float(sample_slow_ms))
    if sample_budgets:
        env[ENV_SAMPLE_BUDGETS] = json.dumps(sample_budgets)
    if sample_tail is not None:
        env[ENV_SAMPLE_TAIL] = sample_tail
    if server_timing:
        env[ENV_SERVER_TIMING] = "1"
    else:
        # An outer run's switch is not this run's.
        env.pop(ENV_SERVER_TIMING, None)
    return env


def run(
    command: Sequence[str],
    traces: Path,
    capture_params: bool = False,
    memory: bool = False,
    profile: bool = False,
    exit_timeout: float | None = None,
    max_store_mb: float | None = None,
    sample: float | None = None,
    sample_slow_ms: float | None = None,
    sample_budgets: dict[str, float] | None = None,
    server_timing: bool = False,
    live: Settings | None = None,
    sample_tail: str | None = None,
) -> int:
    """Run ``command`` to completion under capture; returns its exit code.

    ``live``: show a line per finished request on stderr, limited by these
    settings (:mod:`perfdoctor.live`); None: no lines.

    A store the command's processes could not write (another schema, not a
    store, an unwritable path) is a :class:`StoreError` before the command
    starts: better than running the app for nothing.
    """
    if not command:
        raise UsageError(
            "nothing to run: give a command after --, e.g. perfdoctor run -- python app.py"
        )
    store.check_writable(traces)
    before = _stored(traces)
    with tempfile.TemporaryDirectory(prefix="perfdoctor-run-") as status:
        env = capture_environment(
            traces,
            capture_params,
            memory=memory,
            profile=profile,
            status_dir=Path(status),
            exit_timeout=exit_timeout,
            max_store_mb=max_store_mb,
            sample=sample,
            sample_slow_ms=sample_slow_ms,
            sample_budgets=sample_budgets,
            server_timing=server_timing,
            sample_tail=sample_tail,
        )
        tail = _live_tail(traces, live)
        try:
            code = _wait(command, env)
            # Traces the command's processes set aside (the store was held) go in
            # now if it is free again; else the next report adds them.
            store.merge_spool(traces, busy_timeout=0.25)
        finally:
            if tail is not None:  # its last lines: the requests written at exit
                tail.stop()
        failures = sorted(
            p.read_text(encoding="utf-8", errors="replace").strip()
            for p in Path(status).iterdir()
        )
    if not failures:
        return code
    captured = _stored(traces) - before
    lines = [f"perfdoctor: capture could not start in {len(failures)} Python process(es):"]
    lines += [f"perfdoctor:   {line}" for line in dict.fromkeys(failures)]
    if captured <= 0:
        lines.append(f"perfdoctor: nothing was captured into {traces}")
    sys.stderr.write("\n".join(lines) + "\n")
    if captured <= 0 and code == 0:
        return EXIT_NOTHING_CAPTURED
    return code


def _live_tail(traces: Path, settings: Settings | None) -> Tail | None:
    if settings is None:
        return None
    from perfdoctor.live.tail import Tail, check

    return Tail(traces, check(settings)).start()


def live_by_default(environ: Mapping[str, str] | None = None) -> bool:
    """Live lines unless asked: on when stderr is a terminal, off in CI (``CI`` set)."""
    environ = os.environ if environ is None else environ
    if environ.get("CI"):
        return False
    try:
        return os.isatty(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):
        return False


def _stored(traces: Path) -> int:
    try:
        return store.count_traces(traces)
    except Exception:  # no store yet, or one this run cannot read: counted as empty
        return 0


def _wait(command: Sequence[str], env: dict[str, str]) -> int:
    process: subprocess.Popen[bytes] | None = None

    def forward_interrupt(signum: int, _frame: object) -> None:
        # Ctrl-C in a terminal already reached the command (same process group,
        # in the foreground); a second SIGINT makes servers skip their graceful
        # stop.  Sent to us alone (kill -INT, a script, a supervisor), it is passed on.
        if process is not None and not _terminal_foreground():
            process.send_signal(signum)

    def forward_terminate(signum: int, _frame: object) -> None:
        # A supervisor stopping us stops the command the same way.
        if process is not None:
            process.send_signal(signum)

    # Installed before the command starts: a handled signal is reset to the
    # default in the command, an ignored one would stay ignored there. A script's
    # `perfdoctor run ... &` starts us with SIGINT ignored, and the command must
    # still stop when the script sends it one.
    previous_int = signal.signal(signal.SIGINT, forward_interrupt)
    previous_term = signal.signal(signal.SIGTERM, forward_terminate)
    try:
        try:
            process = subprocess.Popen(list(command), env=env)
        except FileNotFoundError:
            raise UsageError(f"command not found: {command[0]}") from None
        except PermissionError:
            raise UsageError(f"cannot execute {command[0]}: permission denied") from None
        code = process.wait()
        # A command killed by a signal exits as a shell reports it (SIGTERM: 143),
        # not as sys.exit(-15), which would be 241.
        return 128 - code if code < 0 else code
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)


def _terminal_foreground() -> bool:
    """Whether we are in the foreground process group of a terminal (Ctrl-C reaches all of it)."""
    for stream in (sys.stdin, sys.stderr, sys.stdout):
        try:
            fd = stream.fileno()
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except (AttributeError, OSError, ValueError):
            continue
    return False


def python_command() -> list[str]:
    return [sys.executable]
