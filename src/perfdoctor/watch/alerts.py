"""Alerts on a webhook: once when a problem starts, once when it clears.

The message is Slack's incoming-webhook JSON (``text`` for notifications and
clients without blocks, ``blocks`` for the channel), which Mattermost, Rocket.Chat,
Discord's ``/slack`` endpoint and most chat bridges take as it is.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from perfdoctor.settings import Settings
from perfdoctor.watch.problems import Problem

_LABELS = {
    "budget": "Budget broken",
    "slow-query": "Slow query",
    "error-rate": "Error rate",
    "new-finding": "New finding",
}


def message(problem: Problem, resolved: bool, window: str) -> dict[str, Any]:
    label = _LABELS.get(problem.kind, problem.kind)
    if resolved and problem.kind == "new-finding":
        # Not "RESOLVED New finding": the finding is what went, not its newness.
        headline = ":white_check_mark: Finding no longer seen"
        text = f"[perfdoctor] NO LONGER SEEN Finding: {problem.title}"
    elif resolved:
        headline = f":white_check_mark: Resolved: {label}"
        text = f"[perfdoctor] RESOLVED {label}: {problem.title}"
    else:
        headline = f":rotating_light: {label}"
        text = f"[perfdoctor] {label}: {problem.title}"
    context = f"perfdoctor watch · last {window}" + (
        f" · {problem.endpoint}" if problem.endpoint else ""
    )
    return {
        "text": text,
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{headline}*\n{problem.title}"},
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    }


@dataclass
class Webhook:
    url: str
    settings: Settings
    stop: threading.Event = field(default_factory=threading.Event)
    last_error: str = ""

    def post(self, payload: dict[str, Any]) -> bool:
        """Deliver with retries and back-off; False when every attempt failed (the
        reason in :attr:`last_error`). Never waits longer than the attempts' timeouts
        and back-offs, and stops waiting when :attr:`stop` is set."""
        body = json.dumps(payload).encode("utf-8")
        delay = self.settings.watch_webhook_backoff_s
        for attempt in range(max(1, self.settings.watch_webhook_attempts)):
            if attempt and self.stop.wait(delay):
                return False
            if attempt:
                delay *= 2
            request = urllib.request.Request(
                self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
            )
            try:
                with urllib.request.urlopen(
                    request, timeout=self.settings.watch_webhook_timeout_s
                ) as answer:
                    answer.read()
                return True
            except urllib.error.HTTPError as exc:
                self.last_error = f"HTTP {exc.code} {exc.reason}"
                if 400 <= exc.code < 500 and exc.code != 429:
                    return False  # the URL or the payload is wrong: trying again will not help
            except (OSError, ValueError) as exc:
                self.last_error = str(getattr(exc, "reason", None) or exc)
        return False


class Alerter:
    """Which problems the webhook has heard of. A start that could not be delivered
    is tried again on the next pass, and so is a resolve; one failed delivery ends the
    pass's deliveries, so a webhook that is down costs one message's retries a pass."""

    def __init__(self, webhook: Webhook | None, window: str, out: TextIO, err: TextIO) -> None:
        self.webhook = webhook
        self.window = window
        self.out, self.err = out, err
        self.announced: dict[str, Problem] = {}
        # Messages printed but not yet delivered: printed once, however many passes retry.
        self._printed: set[tuple[str, bool]] = set()

    def update(self, problems: Sequence[Problem]) -> None:
        current = {p.key: p for p in problems}
        for key, problem in list(self.announced.items()):
            if key in current:
                continue
            if not self._send(problem, resolved=True):
                return
            del self.announced[key]
        for key, problem in current.items():
            if key in self.announced:
                continue
            if not self._send(problem, resolved=False):
                return
            self.announced[key] = problem

    def _send(self, problem: Problem, resolved: bool) -> bool:
        payload = message(problem, resolved, self.window)
        if (problem.key, resolved) not in self._printed:
            self.out.write(f"perfdoctor: {payload['text'][len('[perfdoctor] ') :]}\n")
            self.out.flush()
            self._printed.add((problem.key, resolved))
        if self.webhook is None or self.webhook.post(payload):
            self._printed.discard((problem.key, resolved))
            return True
        self.err.write(
            f"perfdoctor: warning: the webhook did not take the alert ({self.webhook.last_error}); "
            "trying again on the next pass\n"
        )
        self.err.flush()
        return False
