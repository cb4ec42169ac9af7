"""Run perfdoctor with its stdout or stderr on a real pseudo-terminal of a given size."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


@dataclass
class Ran:
    returncode: int
    terminal: str  # what reached the pseudo-terminal, escape sequences removed
    raw: str  # the same with them
    piped: str  # the stream that went to a pipe


def run_on_tty(
    *args: str,
    tty: str,
    columns: int = 120,
    rows: int = 50,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> Ran:
    """``perfdoctor ARGS`` with ``tty`` ("stdout" or "stderr") on a pseudo-terminal of
    ``columns`` x ``rows`` and the other stream on a pipe."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    environment = dict(os.environ if env is None else env)
    # What a terminal session has; nothing that would force or forbid colour.
    environment.update(TERM="xterm-256color", COLUMNS=str(columns), LINES=str(rows))
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CI"):
        environment.pop(name, None)
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, tty: slave}
    process = subprocess.Popen(
        [sys.executable, "-m", "perfdoctor", *args],
        stdin=subprocess.DEVNULL,
        stdout=streams["stdout"],
        stderr=streams["stderr"],
        cwd=cwd,
        env=environment,
    )
    os.close(slave)
    piped = process.stderr if tty == "stdout" else process.stdout
    assert piped is not None
    chunks: list[bytes] = []
    other: list[bytes] = []
    deadline = time.monotonic() + timeout
    open_fds = {master, piped.fileno()}
    while open_fds and time.monotonic() < deadline:
        ready, _, _ = select.select(list(open_fds), [], [], 0.5)
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the terminal's other side closed: EIO
                data = b""
            if not data:
                open_fds.discard(fd)
            else:
                (chunks if fd == master else other).append(data)
    process.wait(timeout=max(1.0, deadline - time.monotonic()))
    os.close(master)
    piped.close()
    raw = b"".join(chunks).decode("utf-8", errors="replace")
    return Ran(process.returncode, _ANSI.sub("", raw), raw, b"".join(other).decode())
