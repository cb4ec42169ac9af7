"""One side of an interleaved A/B bench, in a process of its own.

Two apps in one process would share imports, settings (Django's are
per-process) and the garbage collector; each side gets a worker process
instead, which loads its app once, warms it up, and runs the rounds the parent
asks for, one at a time, while the other side's worker waits. The protocol is
one JSON object per line: commands on the worker's stdin, replies on a copy of
its original stdout (the app's own prints go to stderr).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from perfdoctor.bench.run import Plan, Progress, Sample
from perfdoctor.bench.spec import load_app, parse_endpoint
from perfdoctor.callsite import display_path
from perfdoctor.errors import UsageError


class WorkerSide:
    """The parent's handle on a worker (see the module docstring)."""

    def __init__(
        self,
        plan: Plan,
        app_ref: str,
        root: str | None,
        memory: bool,
        label: str,
        cpu: int | None = None,
        baseline: tuple[str, str] | None = None,
    ):
        """``baseline``: (the exported tree's top, the repository's top) when this side
        runs an old commit (see :mod:`perfdoctor.bench.baseline`)."""
        self.plan = plan
        self.label = label
        self.canary: float | None = None
        self.process = subprocess.Popen(
            [sys.executable, "-m", "perfdoctor.bench.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if cpu is not None:
            _pin(self.process.pid, cpu)
        self._send(
            {
                "cmd": "start",
                "app": app_ref,
                "root": root,
                "baseline": list(baseline) if baseline else None,
                "memory": memory,
                "endpoints": [e.name for e in plan.endpoints],
                "requests": plan.requests,
                "concurrency": plan.concurrency,
                "rate": plan.rate,
                "warmup": plan.warmup,
                "rounds": plan.rounds,
                "headers": [list(h) for h in plan.headers],
            }
        )

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise UsageError(self._prefix + "the worker process ended") from None

    def _reply(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            raise UsageError(f"{self._prefix}the worker process ended (exit {code})")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise UsageError(self._prefix + reply["error"])
        return reply

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def _prefix(self) -> str:
        return f"{self.label}: " if self.label else ""

    def start(self) -> None:
        self._reply()

    def round(self, index: int, jobs: list[int], progress: Progress) -> list[Sample]:
        self._send({"cmd": "round", "index": index, "jobs": jobs})
        reply = self._reply()
        samples = [Sample(*row) for row in reply["samples"]]
        self.canary = reply.get("canary_ms")
        for _ in samples:
            progress()
        return samples

    def finish(self) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
        self._send({"cmd": "finish"})
        reply = self._reply()
        return reply["facts"], reply["findings"]

    def close(self) -> None:
        if self.process.poll() is None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def shared_cpu() -> int | None:
    """The CPU both sides' workers run on, or None on a machine with one.

    Rounds alternate, so the two workers never compete for it; on different CPUs
    a difference between the CPUs (a busy hyperthread sibling, another frequency)
    would pass for a difference between the sides: in A/A runs here, unpinned
    workers were once 54% apart with 2% noise inside each.
    """
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    return allowed[-1] if len(allowed) > 1 else None


def _pin(pid: int, cpu: int) -> None:
    try:
        os.sched_setaffinity(pid, {cpu})
    except (AttributeError, OSError):
        pass  # not pinned: still correct, only noisier


def _serve(commands: IO[str], replies: IO[str]) -> None:
    side: Any = None
    baseline: list[str] | None = None
    try:
        for line in commands:
            message = json.loads(line)
            try:
                if message["cmd"] == "start":
                    side = _start(message)
                    baseline = message.get("baseline")
                    reply: dict[str, Any] = {"ok": True}
                elif message["cmd"] == "round":
                    samples = side.round(message["index"], message["jobs"], lambda: None)
                    reply = {
                        "samples": [
                            [s.endpoint, s.latency_ms, s.status, s.trace_id, s.round, s.nbytes]
                            for s in samples
                        ],
                        "canary_ms": side.canary,
                    }
                else:
                    facts, findings = side.finish()
                    if baseline:
                        findings = _as_work_tree(findings, *baseline)
                    reply = {"facts": facts, "findings": findings}
            except UsageError as exc:
                reply = {"error": str(exc)}
            except Exception as exc:  # the app's own failure, reported by the parent
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            replies.write(json.dumps(reply) + "\n")
            replies.flush()
            if message["cmd"] == "finish" or "error" in reply:
                return
    finally:
        if side is not None:
            side.close()


def _start(message: dict[str, Any]) -> Any:
    from perfdoctor.bench.sides import InProcessSide

    plan = Plan(
        [parse_endpoint(e) for e in message["endpoints"]],
        message["requests"],
        message["concurrency"],
        message["rate"],
        message["warmup"],
        message["rounds"],
        tuple((name, value) for name, value in message["headers"]),
    )
    baseline = message.get("baseline")
    if baseline:
        _import_from_tree(*baseline)
    app = load_app(message["app"], message["root"])
    if baseline:
        _check_imported_from(message["app"], baseline[0])
    side = InProcessSide(plan, app, message["memory"])
    try:
        side.start()
    except BaseException:
        side.close()  # the lifespan task and the capture, before the error is reported
        raise
    return side


def _import_from_tree(tree: str, top: str) -> None:
    """Entries of ``sys.path`` inside the repository (``src/`` of an editable install,
    a ``PYTHONPATH``) point at the same folders of the exported tree instead."""
    import perfdoctor

    top_path = Path(top)
    # perfdoctor itself stays the running one, even inside the repository it benches.
    own = Path(perfdoctor.__file__).resolve().parent.parent
    for i, entry in enumerate(sys.path):
        try:
            resolved = Path(entry or ".").resolve()
            rel = resolved.relative_to(top_path)
        except (ValueError, OSError):
            continue
        if resolved == own:
            continue
        if (Path(tree) / rel).is_dir():
            sys.path[i] = str(Path(tree) / rel)


def _check_imported_from(ref: str, tree: str) -> None:
    module = sys.modules.get(ref.partition(":")[0])
    where = getattr(module, "__file__", None)
    if where and not Path(where).resolve().is_relative_to(Path(tree).resolve()):
        raise UsageError(
            f"--baseline-ref: {ref.partition(':')[0]} was imported from {where}, not from the "
            "commit's files (an installed copy that is not editable?); bench the two versions "
            "with --app OLD --app NEW instead"
        )


def _as_work_tree(value: Any, tree: str, top: str) -> Any:
    """Paths under the exported tree, as the work tree's side shows them: the same
    finding on both sides then has the same location."""
    if isinstance(value, str):
        if not value.startswith(tree + os.sep):
            return value
        return display_path(top + value[len(tree) :])
    if isinstance(value, list):
        return [_as_work_tree(v, tree, top) for v in value]
    if isinstance(value, dict):
        return {k: _as_work_tree(v, tree, top) for k, v in value.items()}
    return value


def main() -> None:
    # Ctrl-C reaches the whole process group: the parent stops the run (and closes our
    # stdin); a traceback from each worker would only bury its message.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _serve(sys.stdin, replies)


if __name__ == "__main__":
    main()
