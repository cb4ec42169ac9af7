"""Sampling settings of a capturing process: ``run --sample``, ``instrument(sample=)``.

Each request is decided at its start by one random draw (head sampling); at its
end a request that failed or was slow is kept anyway (the tail rule,
:mod:`perfdoctor.capture.tally`, applied in
:func:`perfdoctor.capture.context.finish`), and another the draw left out is
counted and dropped before it costs any encoding or writing.  Runs inside the
user's app: standard library only.
"""

from __future__ import annotations

import os
import random

from perfdoctor.capture import context
from perfdoctor.capture.tally import Tally

ENV_SAMPLE = "PERFDOCTOR_SAMPLE"
# A seed makes the draws repeatable (tests, a benchmark compared run to run).
ENV_SAMPLE_SEED = "PERFDOCTOR_SAMPLE_SEED"
ENV_SAMPLE_SLOW_MS = "PERFDOCTOR_SAMPLE_SLOW_MS"
# "full" or "summary" (Settings.sample_tail).
ENV_SAMPLE_TAIL = "PERFDOCTOR_SAMPLE_TAIL"
TAILS = ("full", "summary")
# Per endpoint, a JSON object {"GET /articles": 200.0, ...}: the p95 budgets of
# [tool.perfdoctor.budgets], so a request over its own endpoint's budget is kept
# even when that budget is under the global slow threshold.
ENV_SAMPLE_BUDGETS = "PERFDOCTOR_SAMPLE_BUDGETS"


def parse_rate(value: object) -> float:
    """A sample rate in (0, 1]; ValueError with a message a user can act on."""
    try:
        rate = float(value)  # type: ignore[arg-type]  # any text or number is tried
    except (TypeError, ValueError):
        rate = float("nan")
    if not 0.0 < rate <= 1.0:  # NaN fails too
        raise ValueError(
            f"sample rate must be a number over 0 and at most 1 (0.05 keeps 5% of requests), "
            f"got {value!r}"
        )
    return rate


def parse_tail(value: object) -> str:
    """``full`` or ``summary``; ValueError with a message a user can act on."""
    if value not in TAILS:
        raise ValueError(f"sample tail must be full or summary, got {value!r}")
    return str(value)


def configure(
    rate: float,
    slow_ms: float,
    seed: str | None = None,
    slow_by_endpoint: dict[str, float] | None = None,
    tail: str = "full",
) -> None:
    """Switch sampling on (rate < 1) or off (rate 1) in this process.

    ``slow_by_endpoint``: a lower slow threshold for some endpoints (their budget);
    a request is kept when it is slower than either threshold.  ``tail``
    "summary": a request the draw leaves out is not captured (see
    :data:`perfdoctor.settings.Settings.sample_tail`).
    """
    context.state.sample_summary = rate < 1.0 and tail == "summary"
    rule = Tally(rate, slow_ms, slow_by_endpoint)
    # Counts the recorder has not taken yet are still its to write.
    rule.counts = context.state.tail.counts
    context.state.tail = rule
    context.state.sample_draw = random.Random(seed).random if seed else random.random
    context.state.sample_rate = rate


def from_env(rate: float | None, slow_ms: float, tail: str | None = None) -> None:
    """``rate`` and ``tail`` as given to instrument(), else the environment's; a bad
    value in the environment samples nothing away, or keeps the full tail (and says
    so), rather than fail the app."""
    if rate is None:
        text = os.environ.get(ENV_SAMPLE)
        rate = 1.0
        if text:
            try:
                rate = parse_rate(text)
            except ValueError as exc:
                _warn(f"perfdoctor: {ENV_SAMPLE}: {exc}; every request is kept")
    else:
        rate = parse_rate(rate)
    slow_text = os.environ.get(ENV_SAMPLE_SLOW_MS)
    if slow_text:
        try:
            slow_ms = float(slow_text)
        except ValueError:
            _warn(f"perfdoctor: {ENV_SAMPLE_SLOW_MS} is not a number ({slow_text!r}); ignored")
    if tail is None:
        tail = os.environ.get(ENV_SAMPLE_TAIL) or "full"
        if tail not in TAILS:
            _warn(f"perfdoctor: {ENV_SAMPLE_TAIL} must be full or summary ({tail!r}); full used")
            tail = "full"
    else:
        tail = parse_tail(tail)
    configure(rate, slow_ms, os.environ.get(ENV_SAMPLE_SEED) or None, _budgets_from_env(), tail)


def _budgets_from_env() -> dict[str, float]:
    text = os.environ.get(ENV_SAMPLE_BUDGETS)
    if not text:
        return {}
    try:
        import json

        table = json.loads(text)
        return {
            str(name): float(ms)
            for name, ms in table.items()
            if isinstance(ms, (int, float)) and not isinstance(ms, bool)
        }
    except Exception:
        _warn(f"perfdoctor: {ENV_SAMPLE_BUDGETS} is not a JSON object of numbers; ignored")
        return {}


def _warn(line: str) -> None:
    try:
        import sys

        sys.stderr.write(line + "\n")
    except Exception:
        pass
