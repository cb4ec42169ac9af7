"""``perfdoctor watch``: a pass every ``--every`` over the last ``--window``."""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO
from urllib.parse import urlsplit

from perfdoctor.analysis.budgets import Budgets
from perfdoctor.errors import ConfigError, StoreError, UsageError
from perfdoctor.model import SEVERITY_RANK
from perfdoctor.settings import Settings
from perfdoctor.watch.alerts import Alerter, Webhook
from perfdoctor.watch.metrics import Metrics
from perfdoctor.watch.problems import Problem, evaluate
from perfdoctor.watch.window import SlidingWindow

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, option: str) -> float:
    """``30s``, ``5m``, ``1h`` or plain seconds, as seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if match is None or float(match.group(1)) <= 0:
        raise UsageError(f"{option} {text}: expected a duration such as 30s, 5m or 1h")
    return float(match.group(1)) * _UNITS[match.group(2)]


def check_webhook(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--webhook {url}: expected an http:// or https:// URL")
    return url


def check_settings(settings: Settings) -> Settings:
    if settings.watch_new_finding_min_severity not in SEVERITY_RANK:
        raise ConfigError(
            f"watch_new_finding_min_severity = {settings.watch_new_finding_min_severity!r}: "
            f"expected one of {', '.join(SEVERITY_RANK)}"
        )
    if not 0 < settings.watch_error_rate <= 1:
        raise ConfigError(
            f"watch_error_rate = {settings.watch_error_rate!r}: expected a share of requests "
            "above 0 and at most 1, e.g. 0.05 for 5 %"
        )
    return settings


@dataclass
class Options:
    traces: Path
    window: str = "5m"
    every: str = "30s"
    webhook: str | None = None
    metrics: str | None = None
    once: bool = False


class Watcher:
    """The state kept between passes: the window, what alerted, the last findings."""

    def __init__(
        self,
        options: Options,
        settings: Settings,
        budgets: Budgets,
        out: TextIO,
        err: TextIO,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.window_s = parse_duration(options.window, "--window")
        self.every_s = parse_duration(options.every, "--every")
        self.settings, self.budgets = check_settings(settings), budgets
        self.stop = threading.Event()
        webhook = None
        if options.webhook:
            webhook = Webhook(check_webhook(options.webhook), settings, self.stop)
        self.metrics_at = None
        if options.metrics:
            from perfdoctor.collect.server import parse_listen

            host, port, _ = parse_listen(options.metrics, "--metrics")
            self.metrics_at = (host, port)
        self.window = SlidingWindow(options.traces, self.window_s, clock)
        self.alerter = Alerter(webhook, options.window, out, err)
        self.metrics = Metrics() if options.metrics else None
        # The fingerprints of every finding a window has shown since the baseline
        # (None before it: the first window that holds traces).  A finding seen
        # before is not new when it comes back: under --sample, an endpoint of
        # a few requests a minute has a kept trace in one window and none in
        # the next, and "not in the previous window" alerted on it again and again.
        self.known: set[str] | None = None

    def serve_metrics(self) -> str | None:
        """The URL of /metrics, when asked for (a port of 0 becomes a free one)."""
        if self.metrics is None or self.metrics_at is None:
            return None
        try:
            port = self.metrics.serve(*self.metrics_at)
            return f"http://{self.metrics_at[0]}:{port}/metrics"
        except OSError as exc:
            where = f"{self.metrics_at[0]}:{self.metrics_at[1]}"
            raise UsageError(f"--metrics {where}: cannot listen there ({exc.strerror})") from exc

    def run_pass(self) -> list[Problem]:
        fresh = self.window.advance()
        traces = self.window.traces
        judged = evaluate(
            traces, self.budgets, self.settings, self.known, set(self.alerter.announced)
        )
        if self.known is not None:
            self.known |= judged.fingerprints
        elif traces:
            # An empty window (watch started before the app had traffic) is no
            # baseline: everything found later would be "new".
            self.known = set(judged.fingerprints)
        self.alerter.update(judged.problems)
        if self.metrics is not None:
            self.metrics.observe(fresh)
            self.metrics.judge(judged.analysis.findings, judged.problems)
        return judged.problems

    def close(self) -> None:
        self.stop.set()
        if self.metrics is not None:
            self.metrics.close()


def run(options: Options, settings: Settings, budgets: Budgets, out: TextIO, err: TextIO) -> int:
    """0: nothing alerting (``--once``) or stopped by a signal; 1: ``--once`` found problems."""
    watcher = Watcher(options, settings, budgets, out, err)
    if not options.traces.exists():
        raise StoreError(
            f"no trace store at {options.traces}: start the app under `perfdoctor run` "
            "(or `perfdoctor collect`) first, or pass --traces"
        )
    try:
        url = watcher.serve_metrics()
        if options.once:
            return 1 if watcher.run_pass() else 0

        def on_signal(signum: int, frame: FrameType | None) -> None:
            watcher.stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, on_signal)
        metrics = f"; metrics on {url}" if url else ""
        out.write(
            f"perfdoctor: watching {options.traces}, the last {options.window} every "
            f"{options.every}{metrics}\n"
        )
        out.flush()
        watcher.run_pass()  # a store that cannot be read fails now, as a bad option
        while not watcher.stop.wait(watcher.every_s):
            try:
                watcher.run_pass()
            except StoreError as exc:  # busy or being replaced: the next pass may read it
                err.write(f"perfdoctor: warning: {exc}; trying again in {options.every}\n")
                err.flush()
        out.write("perfdoctor: stopped watching\n")
        return 0
    finally:
        watcher.close()
