"""The rules that keep live lines readable, on a clock the test moves, and the
lines' layout at the widths of real terminals."""

from __future__ import annotations

import io
from collections import Counter

from perfdoctor.live.limiter import Limiter, Overflow, Repeat
from perfdoctor.live.line import Mark, RequestLine
from perfdoctor.live.render import Layout, Writer, middle
from tests.live.support import parse


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def line(route: str = "/articles/", queries: int = 3, ms: float = 5.0, marks: tuple[Mark, ...] = ()) -> RequestLine:
    return RequestLine("GET", route, 200, ms, queries, marks)


def limiter(clock: Clock, lines: int = 10, analysed: int = 100, repeats: int = 3, window: float = 10.0) -> Limiter:
    return Limiter(lines, analysed, repeats, window, clock)


def test_repeats_show_three_times_then_one_count_when_the_window_ends() -> None:
    clock = Clock()
    limit = limiter(clock)
    shown = []
    for n in range(20):
        clock.now += 0.1
        shown += limit.offer(line(ms=float(n)))
    assert len(shown) == 3
    assert limit.tick() == []  # the window is still open
    clock.now += 10
    (repeat,) = limit.tick()
    assert isinstance(repeat, Repeat)
    assert repeat.count == 17 and repeat.median_ms == 11.0
    # The next window starts afresh.
    assert limit.offer(line()) == [line()]


def test_a_changed_line_shows_at_once() -> None:
    clock = Clock()
    limit = limiter(clock)
    for _ in range(5):
        limit.offer(line(queries=41))
    fixed = line(queries=3)
    assert limit.offer(fixed) == [fixed]


def test_lines_per_second_then_an_overflow_count_by_endpoint() -> None:
    clock = Clock()
    limit = limiter(clock, lines=4, repeats=1000)
    shown = []
    for n in range(30):
        shown += limit.offer(line(route=f"/r{n % 2}/"))
    assert len(shown) == 4
    assert limit.tick() == []  # counted until the second ends
    clock.now += 1.0
    (overflow,) = limit.tick()
    assert isinstance(overflow, Overflow)
    assert overflow.count == 26
    assert overflow.endpoints == Counter({"GET /r0/": 13, "GET /r1/": 13})
    assert len(limit.offer(line(route="/r0/"))) == 1  # a new second


def test_requests_past_the_analysis_budget_are_only_counted() -> None:
    clock = Clock()
    limit = limiter(clock, analysed=5)
    allowed = [limit.may_analyse("GET /a/") for _ in range(8)]
    assert allowed == [True] * 5 + [False] * 3
    (overflow,) = limit.tick(final=True)
    assert isinstance(overflow, Overflow) and overflow.count == 3


def test_the_final_tick_reports_everything_pending() -> None:
    clock = Clock()
    limit = limiter(clock)
    for _ in range(5):
        limit.offer(line())
    (repeat,) = limit.tick(final=True)
    assert isinstance(repeat, Repeat) and repeat.count == 2


N_PLUS_ONE = (
    Mark("N+1 ×20", "blog/views.py:20", "error"),
    Mark("N+1 ×20", "blog/views.py:21", "error"),
)
LONG_ROUTE = "/api/v1/organisations/{org_id}/projects/{project_id}/members/"
DEEP_SITE = (Mark("N+1 ×120", "src/myproject/apps/members/serializers.py:142", "error"),)


def text(layout: Layout, event: RequestLine | Repeat | Overflow, width: int | None) -> str:
    return "".join(piece for piece, _ in layout.pieces(event, width))


def test_at_80_columns_no_line_wraps_and_the_call_site_stays() -> None:
    layout = Layout(slow_ms=500)
    width = 79
    events: list[RequestLine | Repeat | Overflow] = [
        line("/health/", 0),
        line("/articles/", 44, marks=N_PLUS_ONE),
        line(LONG_ROUTE, 130, 812.0, DEEP_SITE),
        Repeat(line("/articles/", 44, marks=N_PLUS_ONE), 57, 13.0, 10.0),
        Overflow(250, Counter({"GET /articles/": 200, f"POST {LONG_ROUTE}": 50})),
    ]
    out = [text(layout, e, width) for e in events]
    assert all(len(o) <= width for o in out), out
    assert "N+1 ×20 blog/views.py:20" in out[1]
    assert out[1].endswith(("+1", "+1 more")), out[1]
    # A long route is cut in the middle; the deep call site keeps its file name.
    assert "…" in out[2] and out[2].split()[1].startswith("/api/v1/") and "members/" in out[2]
    assert "N+1 ×120 …/serializers.py:142" in out[2]
    assert "×57 more like this" in out[3]
    assert out[4].startswith("… 250 more requests: GET /articles/ ×200")


def test_at_120_columns_every_finding_is_shown_whole() -> None:
    layout = Layout(slow_ms=500)
    out = text(layout, line("/articles/", 44, marks=N_PLUS_ONE), 119)
    assert "N+1 ×20 blog/views.py:20  N+1 ×20 blog/views.py:21" in out
    assert "44 queries" in out
    deep = text(layout, line(LONG_ROUTE, 130, 812.0, DEEP_SITE), 119)
    assert "src/myproject/apps/members/serializers.py:142" in deep and len(deep) <= 119


def test_not_on_a_terminal_lines_are_whole_and_plain() -> None:
    stream = io.StringIO()
    writer = Writer(stream, slow_ms=500)
    writer.write(line(LONG_ROUTE, 130, 812.0, DEEP_SITE))
    written = stream.getvalue()
    assert "\x1b[" not in written
    assert LONG_ROUTE in written and "src/myproject/apps/members/serializers.py:142" in written
    (parsed,) = parse(written).requests
    assert parsed["route"] == LONG_ROUTE and parsed["queries"] == "130"


def test_middle() -> None:
    assert middle("/authors/{pk}/dashboard/fixed/", 16) == "/authors…/fixed/"
    assert middle("/short/", 16) == "/short/"


def test_each_per_request_detector_has_a_short_label() -> None:
    from perfdoctor.live.detect import LIVE_DETECTORS
    from perfdoctor.live.line import label, mark
    from perfdoctor.model import Finding, Location

    def finding(kind: str, **evidence: object) -> Finding:
        return Finding(kind, "warning", "t", "GET /x", Location("/abs/app/views.py", 42, "f"), dict(evidence), "")

    labels = {
        "n-plus-one-query": ("N+1 ×30", {"count": 30}),
        "duplicate-query": ("duplicate ×3", {"count": 3}),
        "n-plus-one-http": ("N+1 HTTP ×8", {"count": 8}),
        "sequential-http": ("sequential HTTP ×4", {"count": 4}),
        "slow-query": ("slow query 231 ms", {"max_ms": 231.2, "p95_ms": 200.0}),
    }
    assert set(labels) == LIVE_DETECTORS
    for kind, (expected, evidence) in labels.items():
        assert label(finding(kind, **evidence)) == expected
    assert mark(finding("n-plus-one-query", count=30)).site == "/abs/app/views.py:42"
