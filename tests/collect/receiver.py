"""``perfdoctor collect`` started as a user starts it, on a free port, and posts to it."""

from __future__ import annotations

import gzip
import json
import signal
import sqlite3
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import perfdoctor_cmd


class Receiver:
    def __init__(
        self,
        folder: Path,
        settings: str = "",
        grpc: bool = False,
        options: tuple[str, ...] = (),
        pyproject_tail: str = "",
    ) -> None:
        self.store = folder / "traces.db"
        # [tool.perfdoctor] of the folder it runs in: a tiny queue, for instance.
        (folder / "pyproject.toml").write_text(
            f"[tool.perfdoctor]\n{settings}\n{pyproject_tail}"
        )
        also = (*options, "--grpc", "127.0.0.1:0") if grpc else options
        self.process = subprocess.Popen(
            perfdoctor_cmd(
                "collect", "--listen", "127.0.0.1:0", *also, "--traces", str(self.store)
            ),
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        assert " on http://127.0.0.1:" in first, first + self.process.stderr.read()  # type: ignore[union-attr]
        self.url = first.split(" on ")[1].split()[0]
        self.grpc_address = ""
        if grpc:
            second = self.process.stdout.readline()
            assert "OTLP/gRPC traces on 127.0.0.1:" in second, second
            self.grpc_address = second.split(" on ")[1].split()[0]

    def post(
        self, data: bytes, content_type: str = "application/json", gzipped: bool = False
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": content_type}
        if gzipped:
            data = gzip.compress(data)
            headers["Content-Encoding"] = "gzip"
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def post_json(self, value: dict[str, Any], gzipped: bool = False) -> int:
        return self.post(json.dumps(value).encode(), gzipped=gzipped)[0]

    def stop(self) -> tuple[int, str, str]:
        """SIGTERM, as a service manager stops it: what is queued is written first."""
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, out, err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()

    def stored_trace_ids(self) -> set[str]:
        with sqlite3.connect(self.store) as conn:
            rows = conn.execute("SELECT trace_id FROM otlp_traces").fetchall()
        return {bytes(r[0]).hex() for r in rows}
