"""perfdoctor watch: alerts on a real webhook from a store written by captured requests."""

from __future__ import annotations

import io
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfdoctor import store
from perfdoctor.analysis.budgets import Budgets, parse
from perfdoctor.settings import Settings
from perfdoctor.watch.command import Options, Watcher
from tests.conftest import perfdoctor_cmd, run_perfdoctor
from tests.watch.support import SLOW_S, capture, webhook_receiver

BUDGETS = {"GET /items": {"max_queries": 8}}
# /items runs its setup statements (CREATE, INSERT) and then ?queries=N SELECTs.
BROKEN, HEALTHY = "/items?queries=12", "/items?queries=1"


class Clock:
    """The watcher's "now": real time unless a test moves it to age traces out."""

    def __init__(self) -> None:
        self.at: float | None = None

    def __call__(self) -> float:
        import time

        return time.time() if self.at is None else self.at


def make_watcher(
    traces: Path,
    webhook: str | None,
    clock: Clock,
    settings: Settings | None = None,
    budgets: Budgets | None = None,
    metrics: str | None = None,
) -> tuple[Watcher, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    options = Options(traces, window="60s", every="1s", webhook=webhook, metrics=metrics)
    watcher = Watcher(
        options,
        settings or Settings(),
        parse(BUDGETS) if budgets is None else budgets,
        out,
        err,
        clock=clock,
    )
    return watcher, out, err


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "traces.db"


def age_out_all_but_newest(traces: Path, clock: Clock, newest: int) -> None:
    """Move the clock so that the window holds only the ``newest`` traces."""
    started = sorted(t.started_at for t in store.load_traces(traces))
    first_kept, last_dropped = started[-newest], started[-newest - 1]
    clock.at = 60 + (first_kept + last_dropped) / 2


def of_kind(texts: list[str], label: str) -> list[str]:
    return [t for t in texts if f"{label}:" in t]


def test_a_broken_budget_alerts_once_and_resolves_once(watched: Path) -> None:
    capture(watched, BROKEN, BROKEN, HEALTHY)
    clock = Clock()
    with webhook_receiver() as (url, hook):
        watcher, _, _ = make_watcher(watched, url, clock)
        watcher.run_pass()
        alerts = of_kind(hook.texts(), "Budget broken")
        assert len(alerts) == 1, hook.texts()
        assert "GET /items is over its budget: queries per request" in alerts[0]
        assert "RESOLVED" not in alerts[0]
        payload = hook.posts[0]
        assert payload["blocks"][0]["type"] == "section"
        assert "GET /items" in payload["blocks"][0]["text"]["text"]

        capture(watched, BROKEN)  # still broken on the next pass: no second alert
        watcher.run_pass()
        assert len(of_kind(hook.texts(), "Budget broken")) == 1

        capture(watched, HEALTHY, HEALTHY)
        age_out_all_but_newest(watched, clock, 2)
        watcher.run_pass()
        texts = of_kind(hook.texts(), "Budget broken")
        assert len(texts) == 2, texts
        assert texts[1].startswith("[perfdoctor] RESOLVED Budget broken: GET /items")

        watcher.run_pass()  # resolved stays quiet
        assert len(of_kind(hook.texts(), "Budget broken")) == 2


def test_an_endpoint_within_its_budget_does_not_alert(watched: Path) -> None:
    capture(watched, HEALTHY, HEALTHY)
    with webhook_receiver() as (url, hook):
        watcher, _, _ = make_watcher(watched, url, Clock())
        assert watcher.run_pass() == []
        assert hook.posts == []


def test_an_error_rate_over_the_threshold_alerts(watched: Path) -> None:
    capture(watched, *["/orders?fail=1"] * 2, *["/orders"] * 4)
    with webhook_receiver() as (url, hook):
        watcher, _, _ = make_watcher(watched, url, Clock())
        watcher.run_pass()
        alerts = of_kind(hook.texts(), "Error rate")
        assert alerts == [
            "[perfdoctor] Error rate: GET /orders answered 5xx to 2 of 6 "
            "requests (33%; alert from 5%)"
        ]


@pytest.mark.parametrize(
    ("paths", "sample"),
    [
        (["/orders?fail=1", *["/orders"] * 24], None),  # 4 %: under the 5 % threshold
        (["/orders?fail=1", "/orders?fail=1"], None),  # all failed, but too few to judge
        # Under run --sample every failed request is kept and a share of the others:
        # 2 failures in 200 requests are 1 %, not 2 of the 20-odd traces kept.
        (["/orders?fail=1"] * 2 + ["/orders"] * 198, 0.1),
    ],
    ids=["under-threshold", "too-few-requests", "sampled-under-threshold"],
)
def test_an_error_rate_under_the_threshold_or_on_few_requests_is_quiet(
    watched: Path, paths: list[str], sample: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERFDOCTOR_SAMPLE_SEED", "5")
    capture(watched, *paths, sample=sample)
    if sample is not None:
        assert len(store.load_traces(watched)) < 40
    with webhook_receiver() as (url, hook):
        watcher, _, _ = make_watcher(watched, url, Clock())
        watcher.run_pass()
        assert of_kind(hook.texts(), "Error rate") == []


def test_a_sampled_error_rate_over_the_threshold_alerts_with_its_estimate(
    watched: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERFDOCTOR_SAMPLE_SEED", "5")
    capture(watched, *["/orders?fail=1"] * 20, *["/orders"] * 180, sample=0.1)
    with webhook_receiver() as (url, hook):
        watcher, _, _ = make_watcher(watched, url, Clock())
        watcher.run_pass()
        [alert] = of_kind(hook.texts(), "Error rate")
        # The 20 failures, all kept, of about 200 requests (the fast ones drawn at 0.1).
        assert alert.startswith("[perfdoctor] Error rate: GET /orders answered 5xx to 20 of ~")
        requests = int(alert.split("of ~")[1].split()[0])
        assert 120 <= requests <= 300


def test_a_finding_new_to_the_window_alerts(watched: Path) -> None:
    capture(watched, "/report", "/report")
    with webhook_receiver() as (url, hook):
        watcher, _, _ = make_watcher(watched, url, Clock())
        watcher.run_pass()  # the first window is the baseline: nothing is new yet
        assert of_kind(hook.texts(), "New finding") == []

        capture(watched, "/report?loop=1", "/report?loop=1")
        watcher.run_pass()
        alerts = of_kind(hook.texts(), "New finding")
        assert len(alerts) == 1, hook.texts()
        assert alerts[0].startswith("[perfdoctor] New finding: GET /report: N+1 queries")
        assert alerts[0].endswith("[n-plus-one-query]")

        capture(watched, "/report?loop=1")
        watcher.run_pass()  # still there: not new any more, and not alerted again
        assert len(of_kind(hook.texts(), "New finding")) == 1


def test_a_finding_that_leaves_the_window_and_comes_back_is_not_new_again(
    watched: Path,
) -> None:
    """A sampled endpoint of few requests has a kept trace in one window and none
    in the next: its finding resolves when it leaves, and is no news when it returns."""
    capture(watched, "/report")
    clock = Clock()

    def news(texts: list[str]) -> list[str]:
        return [t for t in texts if t.startswith("[perfdoctor] New finding:")]

    with webhook_receiver() as (url, hook):
        watcher, _, _ = make_watcher(watched, url, clock)
        watcher.run_pass()
        capture(watched, "/report?loop=1", "/report?loop=1")
        watcher.run_pass()
        assert len(news(hook.texts())) == 1

        capture(watched, "/report")
        age_out_all_but_newest(watched, clock, 1)
        watcher.run_pass()
        assert [t for t in hook.texts() if "NO LONGER SEEN Finding:" in t], hook.texts()

        capture(watched, "/report?loop=1")
        clock.at = None
        watcher.run_pass()
        assert len(news(hook.texts())) == 1, hook.texts()


def test_an_empty_first_window_is_no_baseline(watched: Path) -> None:
    """watch started with the app, before its first request: what the first
    requests show is the baseline, not a flood of new findings."""
    store.open_for_writing(watched).close()  # a store with no trace yet
    with webhook_receiver() as (url, hook):
        watcher, _, _ = make_watcher(watched, url, Clock())
        watcher.run_pass()
        capture(watched, "/report?loop=1", "/report?loop=1")
        watcher.run_pass()
        assert of_kind(hook.texts(), "New finding") == []
        capture(watched, "/search?slow=1")
        watcher.run_pass()
        capture(watched, "/report?loop=1")
        watcher.run_pass()
        assert of_kind(hook.texts(), "New finding") == []


def test_a_finding_already_in_the_first_window_is_not_new(watched: Path) -> None:
    capture(watched, "/report?loop=1", "/report?loop=1")
    with webhook_receiver() as (url, hook):
        watcher, _, _ = make_watcher(watched, url, Clock())
        watcher.run_pass()
        capture(watched, "/report?loop=1")
        watcher.run_pass()
        assert of_kind(hook.texts(), "New finding") == []


# Slow queries: a budget under the query's wait, so it is over it on any machine.
SLOW_QUERY = Settings().replace(slow_query_p95_ms=SLOW_S * 1000 / 2)


def test_a_slow_query_alerts(watched: Path) -> None:
    capture(watched, "/search?slow=1", "/search?slow=1", "/search")
    with webhook_receiver() as (url, hook):
        watcher, _, _ = make_watcher(watched, url, Clock(), SLOW_QUERY)
        watcher.run_pass()
        alerts = of_kind(hook.texts(), "Slow query")
        assert len(alerts) == 1, hook.texts()
        assert "GET /search" in alerts[0]
        assert alerts[0].endswith("[slow-query]")


def test_fast_queries_do_not_alert(watched: Path) -> None:
    capture(watched, "/search", "/search")
    with webhook_receiver() as (url, hook):
        watcher, _, _ = make_watcher(watched, url, Clock(), SLOW_QUERY)
        watcher.run_pass()
        assert of_kind(hook.texts(), "Slow query") == []


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


QUICK_WEBHOOK = Settings().replace(
    watch_webhook_timeout_s=0.3, watch_webhook_attempts=2, watch_webhook_backoff_s=0.05
)


def test_a_webhook_that_is_down_does_not_stop_watch(watched: Path) -> None:
    capture(watched, BROKEN)
    watcher, out, err = make_watcher(watched, closed_port_url(), Clock(), QUICK_WEBHOOK)
    problems = watcher.run_pass()
    assert [p.kind for p in problems] == ["budget"]
    assert "the webhook did not take the alert" in err.getvalue()

    # A receiver that accepts connections and never answers: the call times out.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        assert watcher.alerter.webhook is not None
        watcher.alerter.webhook.url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        assert [p.kind for p in watcher.run_pass()] == ["budget"]
    assert "timed out" in err.getvalue()

    # The alert is printed once, however many passes try to deliver it.
    assert out.getvalue().count("Budget broken: GET /items") == 1

    # Back up: the alert that could not be delivered goes out now, once.
    with webhook_receiver() as (url, hook):
        watcher.alerter.webhook.url = url
        watcher.run_pass()
        watcher.run_pass()
        assert len(of_kind(hook.texts(), "Budget broken")) == 1


def test_the_metrics_endpoint_scrapes(watched: Path) -> None:
    from urllib.request import urlopen

    from prometheus_client.parser import text_string_to_metric_families

    capture(watched, "/items?queries=3", "/items?queries=3", "/orders?fail=1", "/report?loop=1")
    watcher, _, _ = make_watcher(watched, None, Clock(), metrics="127.0.0.1:0")
    url = watcher.serve_metrics()
    assert url is not None
    try:

        def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            with urlopen(url, timeout=10) as answer:
                text = answer.read().decode()
            return {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }

        watcher.run_pass()
        samples = scrape()
        items = (("endpoint", "GET /items"),)
        assert samples[("perfdoctor_request_duration_seconds_count", items)] == 2
        queries = sum(
            len(t.db_spans()) for t in store.load_traces(watched) if t.name == "GET /items"
        )
        assert samples[("perfdoctor_queries_per_request_sum", items)] == queries
        assert samples[("perfdoctor_request_errors_total", (("endpoint", "GET /orders"),))] == 1
        assert samples[("perfdoctor_findings", (("id", "n-plus-one-query"),))] >= 1

        watcher.run_pass()  # no new trace: each request is counted once
        assert scrape()[("perfdoctor_request_duration_seconds_count", items)] == 2
    finally:
        watcher.close()


def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "shop"\n\n[tool.perfdoctor.budgets]\n'
        '"GET /items" = { max_queries = 8 }\n',
        encoding="utf-8",
    )
    return tmp_path


def test_once_exits_1_when_something_alerts_and_0_when_not(tmp_path: Path) -> None:
    cwd = project(tmp_path)
    broken, healthy = tmp_path / "broken.db", tmp_path / "healthy.db"
    capture(broken, BROKEN)
    capture(healthy, HEALTHY)
    result = run_perfdoctor("watch", "--once", "--traces", str(broken), cwd=cwd)
    assert result.returncode == 1, result.stderr
    assert "Budget broken: GET /items is over its budget" in result.stdout
    result = run_perfdoctor("watch", "--once", "--traces", str(healthy), cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--window", "soon"], "--window soon: expected a duration such as 30s, 5m or 1h"),
        (["--webhook", "hooks.example"], "--webhook hooks.example: expected an http://"),
        (["--metrics", "9464"], "--metrics 9464: expected HOST:PORT"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    tmp_path: Path, option: list[str], message: str
) -> None:
    capture(tmp_path / "t.db", HEALTHY)
    result = run_perfdoctor("watch", "--once", "--traces", str(tmp_path / "t.db"), *option)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert message in result.stderr


def test_sigterm_stops_watch_cleanly(tmp_path: Path) -> None:
    traces = tmp_path / "t.db"
    capture(traces, HEALTHY)
    process = subprocess.Popen(
        perfdoctor_cmd("watch", "--traces", str(traces), "--every", "1s"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert "perfdoctor: watching" in process.stdout.readline()
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped watching" in out


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("watch_error_rate = 5", "watch_error_rate = 5.0: expected a share of requests"),
        ('watch_new_finding_min_severity = "high"', "expected one of error, warning, info"),
    ],
)
def test_bad_watch_settings_are_one_line_and_exit_2(
    tmp_path: Path, setting: str, message: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.perfdoctor]\n{setting}\n", encoding="utf-8")
    capture(tmp_path / "t.db", HEALTHY)
    result = run_perfdoctor("watch", "--once", "--traces", str(tmp_path / "t.db"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
