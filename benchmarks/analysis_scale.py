"""How fast does ``perfdoctor report`` analyse a big store, and in how much memory?

    python benchmarks/analysis_scale.py                         # 250k and 1M spans, 3 runs each
    python benchmarks/analysis_scale.py --baseline-ref main     # also the code of ``main``
    python benchmarks/analysis_scale.py --quick                 # smoke run: 20k spans, 1 run
    python benchmarks/analysis_scale.py --json                  # the same figures as JSON
    python benchmarks/analysis_scale.py --parts --sizes 1000000 --baseline-ref main
                                                                # where the time goes, in-process
    python benchmarks/analysis_scale.py --store traces.db --baseline-ref main
                                                                # a store captured from a real app

The stores are written through the real store writer (``store.write_traces``)
from generated traces of a web app: six endpoints and a queued task, with an
N+1 loop (a query per row, from a line inside a loop), the same query run twice
with the same parameters, repeated identical reads across requests, outbound
HTTP calls (the same GET with the same answer, a POST without a timeout), cache
reads and writes (some with no expiry), a dashboard of forty SQL shapes, IN
lists of every length and literals that differ in every request (normalised as
capture does), deep stacks, latencies spread over two orders of magnitude,
and on every trace a machine sample as capture attaches one (read once a
second, a load that wanders between quiet and busy).
They are built once and kept under the temp folder (``--store-dir``).

Each figure is ``perfdoctor report --format json`` run end to end in a fresh
subprocess (its output dropped): wall seconds, spans per second (stored spans
over wall seconds) and the child's peak RSS (``ru_maxrss`` from ``wait4``).
Medians over ``--runs`` runs; the sides take turns within each round.

The child's CPU seconds (user + system, from the same ``wait4``) are shown
beside: on a shared machine they move far less than the wall time.

Each side's ``src/`` is compiled to bytecode first (``compileall``), as an
installed perfdoctor is: otherwise, where ``PYTHONDONTWRITEBYTECODE`` is set,
every run compiles ~110 modules again (``--compile-each-run`` keeps that).

``--baseline-ref REF`` extracts ``src/`` of that git ref (``git archive``)
into a temp folder and runs the same command with it first on
``PYTHONPATH``: the "before" of the same run, on the same stores.

``--parts`` measures instead where the time goes, in a fresh subprocess per
run and side: CPU seconds (``time.process_time``) of the reading (the store's
chunks as ``report`` reads them) and of each reader of the chunks (every
detector session, the endpoint statistics, sampling, profiles), with the
collector run as ``report`` runs it; medians over ``--runs``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

from perfdoctor import store
from perfdoctor.fingerprint import normalize
from perfdoctor.model import Location, Span, Trace

# Bump when the generated workload changes: cached stores of an older one are rebuilt.
WORKLOAD_VERSION = 3
REPO = Path(__file__).resolve().parent.parent
# The app's source, written before each build and measure (write_app_source): a
# report reads the files its stacks name, to find the loop around a repeated
# call site, as it does on a real app's store (v3; earlier ones named files that did not
# exist, which left that work out).
APP = str(Path(tempfile.gettempdir()) / "perfdoctor-bench" / "blog-app-v3")


def _frames(*user: tuple[str, int, str]) -> list[Location]:
    """A stack as capture keeps it: the user's frames innermost first, then the framework's."""
    frames = [Location(f"{APP}/{path}", line, fn) for path, line, fn in user]
    frames += [
        Location("/usr/lib/python3/site-packages/flask/app.py", 1469, "dispatch_request"),
        Location("/usr/lib/python3/site-packages/flask/app.py", 1484, "full_dispatch_request"),
        Location("/usr/lib/python3/site-packages/flask/app.py", 2190, "wsgi_app"),
    ]
    return frames


STACKS = {
    "list": _frames(("views/articles.py", 41, "list_articles")),
    "author": _frames(("models.py", 88, "author"), ("views/articles.py", 47, "list_articles")),
    "tags": _frames(("models.py", 102, "tags"), ("views/articles.py", 48, "list_articles")),
    "article": _frames(("views/articles.py", 63, "show_article")),
    "article_again": _frames(
        ("services/access.py", 12, "can_read"), ("views/articles.py", 66, "show_article")
    ),
    "comments": _frames(("views/articles.py", 70, "show_article")),
    "settings": _frames(
        ("services/config.py", 22, "site_settings"), ("views/base.py", 9, "before")
    ),
    "cache_get": _frames(
        ("services/cache.py", 31, "cached"), ("views/articles.py", 60, "show_article")
    ),
    "cache_set": _frames(
        ("services/cache.py", 36, "cached"), ("views/articles.py", 60, "show_article")
    ),
    "cache_feed": _frames(("services/feed.py", 55, "store_feed"), ("views/feed.py", 30, "feed")),
    "weather": _frames(("clients/weather.py", 18, "current"), ("views/search.py", 25, "search")),
    "webhook": _frames(
        ("clients/hooks.py", 40, "notify"), ("views/comments.py", 33, "add_comment")
    ),
    "insert": _frames(("views/comments.py", 28, "add_comment")),
    "search": _frames(("views/search.py", 20, "search")),
    "feed": _frames(("views/feed.py", 22, "feed")),
    "feed_user": _frames(("views/feed.py", 26, "feed")),
    "dashboard": _frames(("views/admin.py", 15, "dashboard")),
    "task": [Location(f"{APP}/tasks.py", 12, "send_digest")],
}


# The loops of the app's source: (file, line of the loop's header, last line of its
# body).  The list's author and tags, the feed's users and the dashboard's forty
# queries each run once an iteration.
LOOPS = (("views/articles.py", 46, 48), ("views/feed.py", 24, 26), ("views/admin.py", 14, 15))


def write_app_source() -> None:
    """The files the stacks name, each line where the stacks say, those in
    :data:`LOOPS` inside a loop (the others plain statements)."""
    lines: dict[str, set[int]] = {}
    for stack in STACKS.values():
        for frame in stack:
            if frame.path.startswith(APP):
                lines.setdefault(frame.path[len(APP) + 1 :], set()).add(frame.line)
    lines.setdefault("views.py", set()).add(10)  # the traces' handler
    for name, used in lines.items():
        loops = [(start, end) for path, start, end in LOOPS if path == name]
        text = ["def view(items):"]
        for number in range(2, max(used) + 3):
            if any(number == start for start, _ in loops):
                text.append("    for item in items:")
            elif any(start < number <= end for start, end in loops):
                text.append("        item.load()")
            else:
                text.append("    items = list(items)")
        path = Path(APP) / name
        content = "\n".join(text) + "\n"
        if not path.exists() or path.read_text() != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)


class Workload:
    """Traces of the blog, deterministic for a seed."""

    def __init__(self, seed: int = 16) -> None:
        self.rng = random.Random(seed)
        self.started = 1_760_000_000.0
        self.count = 0
        # The machine as capture samples it: read at most once a second and shared
        # by the traces that finish within it (v2; v1's traces carried none, which
        # left out what the machine evidence keeps per trace).
        self.machine: dict[str, float] = {}
        self.machine_second = -1
        self.load = 0.0

    def _db(self, sql: str, stack: str, start: float, ms: float, rows: int = 1) -> Span:
        shape = normalize(sql)
        return Span(
            kind="db",
            start_ms=round(start, 3),
            duration_ms=round(ms, 3),
            location=STACKS[stack][0],
            stack=STACKS[stack],
            framework="sqlalchemy",
            system="postgresql",
            statement=shape.statement,
            fingerprint=shape.fingerprint,
            params_digest=f"{hash(sql) & 0xFFFFFFFFFFFF:012x}",
            rows=rows,
            connection_id=1,
        )

    def _ms(self, typical: float) -> float:
        return typical * self.rng.lognormvariate(0, 0.5)

    def _cache(self, op: str, key: str, stack: str, start: float, **attrs: Any) -> Span:
        return Span(
            kind="cache",
            start_ms=round(start, 3),
            duration_ms=round(self._ms(0.3), 3),
            location=STACKS[stack][0],
            stack=STACKS[stack],
            system="redis",
            attrs={"op": op, "key": key, "key_digest": f"k{hash(key) & 0xFFFFFF:06x}", **attrs},
        )

    def _http(
        self, method: str, url: str, stack: str, start: float, ms: float, **attrs: Any
    ) -> Span:
        return Span(
            kind="http",
            start_ms=round(start, 3),
            duration_ms=round(ms, 3),
            location=STACKS[stack][0],
            stack=STACKS[stack],
            system="requests",
            attrs={
                "method": method,
                "host": url.split("/")[2],
                "url": url,
                "status": 200,
                "bytes": 512,
                "url_digest": f"u{hash(url) & 0xFFFFFF:06x}",
                **attrs,
            },
        )

    def _trace(self, name: str, spans: list[Span], tail_ms: float, kind: str = "http") -> Trace:
        self.count += 1
        self.started += self.rng.expovariate(20.0)
        end = max((s.end_ms for s in spans), default=0.0) + tail_ms
        second = int(self.started)
        if second != self.machine_second:
            self.machine_second = second
            # A load that swings between quiet and busy on 4 CPUs over a quarter of an
            # hour, busy (over 4) a little more than half of the time.
            self.load = max(0.0, 4.5 + 2.5 * math.sin(second / 150.0) + self.rng.gauss(0, 0.1))
            self.machine = {
                "load1": round(self.load, 2),
                "cpus": 4,
                "cpu_pressure": round(max(0.0, self.load - 2.0) * 7.5, 2),
                "steal_pct": round(self.rng.random() * 0.4, 1),
            }
        return Trace(
            id=f"{self.count:032x}",
            name=name,
            kind=kind,
            started_at=self.started,
            duration_ms=round(end, 3),
            status=200,
            pid=4000 + self.count % 4,
            cpu_ms=round(end * 0.4, 3),
            spans=spans,
            attrs={
                "framework": "flask",
                "handler": {"path": f"{APP}/views.py", "line": 10, "function": name.split()[-1]},
                "response": {"bytes": 2048 + self.count % 100, "items": 20},
                "response_headers": {"content-type": "application/json"},
                "machine": self.machine,
            },
        )

    def articles(self) -> Trace:
        """The N+1: 20 articles, then each one's author and tags in a loop."""
        t = 1.0
        spans = [self._db("SELECT * FROM settings WHERE site = 1", "settings", t, self._ms(0.4))]
        t += 1
        page = self.rng.randrange(50)
        spans.append(
            self._db(
                f"SELECT * FROM articles ORDER BY id LIMIT 20 OFFSET {page * 20}",
                "list",
                t,
                self._ms(2),
                20,
            )
        )
        t += 3
        for row in range(20):
            author = self.rng.randrange(1, 500)
            spans.append(
                self._db(f"SELECT * FROM authors WHERE id = {author}", "author", t, self._ms(0.5))
            )
            t += 0.7
            spans.append(
                self._db(
                    f"SELECT tags.* FROM tags JOIN article_tags ON tags.id = article_tags.tag_id "
                    f"WHERE article_tags.article_id = {page * 20 + row}",
                    "tags",
                    t,
                    self._ms(0.6),
                    3,
                )
            )
            t += 0.8
        return self._trace("GET /articles", spans, self._ms(3))

    def article(self) -> Trace:
        """A duplicate query, a cache read and write, comments with an IN list."""
        t = 0.5
        article = self.rng.randrange(1, 1000)
        spans = [self._cache("get", "article:<id>", "cache_get", t, hit=False)]
        t += 0.5
        sql = f"SELECT * FROM articles WHERE id = {article}"
        spans.append(self._db(sql, "article", t, self._ms(0.8)))
        t += 1.2
        spans.append(self._db(sql, "article_again", t, self._ms(0.8)))
        t += 1.2
        ids = ", ".join(
            str(self.rng.randrange(1, 10_000)) for _ in range(self.rng.randrange(1, 30))
        )
        spans.append(
            self._db(
                f"SELECT * FROM comments WHERE id IN ({ids})", "comments", t, self._ms(1.5), 10
            )
        )
        t += 2
        spans.append(self._cache("set", "article:<id>", "cache_set", t, ttl=300))
        return self._trace("GET /articles/<int:id>", spans, self._ms(2))

    def comment(self) -> Trace:
        t = 0.5
        spans = [
            self._db(
                f"INSERT INTO comments (article_id, body) VALUES ({self.rng.randrange(1000)}, 'x')",
                "insert",
                t,
                self._ms(1.5),
            )
        ]
        t += 2
        spans.append(
            self._http(
                "POST", "https://hooks.example.com/notify", "webhook", t, self._ms(40), timeout=None
            )
        )
        return self._trace("POST /articles/<int:id>/comments", spans, self._ms(2))

    def search(self) -> Trace:
        """A slow query, and the same weather GET with the same answer every time."""
        t = 0.5
        word = "".join(self.rng.choice("abcdefgh") for _ in range(6))
        spans = [
            self._http(
                "GET",
                "https://api.weather.example/v1/current",
                "weather",
                t,
                self._ms(30),
                response_digest="r42",
                timeout=5,
            )
        ]
        t += 35
        spans.append(
            self._db(
                f"SELECT * FROM articles WHERE body LIKE '%{word}%' ORDER BY created DESC",
                "search",
                t,
                self._ms(120),
                50,
            )
        )
        return self._trace("GET /search", spans, self._ms(5))

    def feed(self) -> Trace:
        """Pairs of queries per followed user (MN+1) and a cache write with no expiry."""
        t = 0.5
        spans = []
        for _ in range(self.rng.randrange(5, 15)):
            user = self.rng.randrange(1, 5000)
            spans.append(
                self._db(f"SELECT * FROM users WHERE id = {user}", "feed_user", t, self._ms(0.5))
            )
            t += 0.6
            spans.append(
                self._db(
                    f"SELECT * FROM posts WHERE user_id = {user} ORDER BY id DESC LIMIT 5",
                    "feed",
                    t,
                    self._ms(0.9),
                    5,
                )
            )
            t += 1.0
        spans.append(self._cache("set", "feed:<id>", "cache_feed", t, ttl=None))
        return self._trace("GET /feed", spans, self._ms(4))

    def dashboard(self) -> Trace:
        """Forty distinct aggregate shapes, each with its own literals."""
        t = 0.5
        spans = []
        for shape in range(40):
            days = self.rng.randrange(1, 90)
            sql = (
                f"SELECT date(created) AS day, count(*) FROM events_{shape % 8} "
                f"WHERE kind = {shape} AND created > now() - interval '{days} days' GROUP BY day"
            )
            spans.append(self._db(sql, "dashboard", t, self._ms(1.2), 30))
            t += 1.5
        return self._trace("GET /admin/dashboard", spans, self._ms(3))

    def task(self) -> Trace:
        t = 0.5
        spans = [
            self._db(
                f"SELECT * FROM users WHERE digest_day = {self.rng.randrange(7)}",
                "task",
                t,
                self._ms(5),
                100,
            )
        ]
        trace = self._trace("task app.tasks.send_digest", spans, self._ms(20), kind="job")
        trace.attrs = {"job": {"system": "celery", "task": "app.tasks.send_digest"}}
        return trace

    def traces(self) -> Iterator[Trace]:
        mix = [
            (self.articles, 30),
            (self.article, 30),
            (self.comment, 8),
            (self.search, 10),
            (self.feed, 12),
            (self.dashboard, 6),
            (self.task, 4),
        ]
        makers = [m for m, _ in mix]
        weights = [w for _, w in mix]
        while True:
            yield self.rng.choices(makers, weights)[0]()


def build_store(path: Path, spans: int) -> int:
    """Write traces until the store holds at least ``spans`` spans; returns the count."""
    tmp = path.with_suffix(".building")
    store.clear(tmp)
    conn = store.open_for_writing(tmp)
    written = 0
    batch: list[Trace] = []
    for trace in Workload().traces():
        batch.append(trace)
        written += len(trace.spans)
        if len(batch) == 500 or written >= spans:
            store.write_traces(conn, batch)
            batch = []
        if written >= spans:
            break
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    store.clear(path)
    tmp.rename(path)
    return written


def stored_spans(path: Path) -> tuple[int, int]:
    """(traces, spans) in the store, counted by SQLite."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT count(*), sum(json_array_length(spans, '$.spans')) FROM traces"
        ).fetchone()
    finally:
        conn.close()
    return int(row[0]), int(row[1])


def scaled_copy(source: Path, times: int, target: Path) -> Path:
    """A copy of ``source`` holding each trace ``times`` times: copy k of a trace
    gets a new id and starts k store-lengths (plus a second) later, so the copies
    are that traffic again, later; what the traces share (stacks, statements,
    catalogs) is the store's as it is, and a sampled store's counts are scaled."""
    conn = sqlite3.connect(source)
    try:
        conn.execute("VACUUM INTO ?", (str(target),))
    finally:
        conn.close()
    conn = sqlite3.connect(target)
    try:
        first, last = conn.execute("SELECT min(started_at), max(started_at) FROM traces").fetchone()
        length = (last or 0.0) - (first or 0.0) + 1.0
        columns = [row[1] for row in conn.execute("PRAGMA table_info(traces)")]
        copied = ", ".join(
            "id || :suffix" if c == "id" else "started_at + :shift" if c == "started_at" else c
            for c in columns
        )
        original = conn.execute("SELECT max(rowid) FROM traces").fetchone()[0] or 0
        with conn:
            for k in range(1, times):
                conn.execute(
                    f"INSERT INTO traces ({', '.join(columns)}) "
                    f"SELECT {copied} FROM traces WHERE rowid <= :original ORDER BY rowid",
                    {"suffix": f"~{k}", "shift": k * length, "original": original},
                )
            conn.execute("UPDATE sampling SET seen = seen * ?, kept = kept * ?", (times, times))
    finally:
        conn.close()
    return target


def cached_store(folder: Path, spans: int) -> Path:
    path = folder / f"analysis-scale-v{WORKLOAD_VERSION}-{spans}.sqlite"
    if not path.exists():
        started = time.perf_counter()
        print(f"building {path.name} ...", file=sys.stderr, flush=True)
        build_store(path, spans)
        print(f"  built in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return path


def baseline_source(ref: str, folder: Path) -> Path:
    """``src/`` of git ``ref`` extracted under ``folder``: what PYTHONPATH points at."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", ref, "src"],
        check=True,
        capture_output=True,
    ).stdout
    target = folder / f"baseline-{ref.replace('/', '_')}"
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target)
    return target / "src"


def compile_bytecode(source: Path) -> None:
    """Each side's modules compiled before its runs, as an installed perfdoctor's are
    (pip compiles them; an editable install on first import): with
    PYTHONDONTWRITEBYTECODE set, every run would otherwise compile ~110 modules
    again (~0.09 CPU s), which no user's ``report`` pays."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(source)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def run_report(path: Path, pythonpath: Path | None) -> tuple[float, float, int]:
    """One ``perfdoctor report --format json``: wall seconds, the child's CPU seconds
    (user + system) and its peak RSS (kB)."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    else:
        env.pop("PYTHONPATH", None)
    command = [
        sys.executable,
        "-m",
        "perfdoctor",
        "report",
        "--traces",
        str(path),
        "--format",
        "json",
    ]
    started = time.perf_counter()
    child = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tempfile.gettempdir(),
    )
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1):
        raise SystemExit(f"perfdoctor report failed ({child.returncode}):\n{errors.decode()}")
    return wall, usage.ru_utime + usage.ru_stime, int(usage.ru_maxrss)


def measure(
    stores: list[tuple[Path, int, int]], sides: dict[str, Path | None], runs: int
) -> list[dict[str, Any]]:
    rows = []
    for path, traces, spans in stores:
        walls: dict[str, list[float]] = {side: [] for side in sides}
        cpus: dict[str, list[float]] = {side: [] for side in sides}
        rss: dict[str, list[int]] = {side: [] for side in sides}
        for round_ in range(runs):
            order = list(sides)
            if round_ % 2:
                order.reverse()
            for side in order:
                wall, cpu, peak = run_report(path, sides[side])
                walls[side].append(wall)
                cpus[side].append(cpu)
                rss[side].append(peak)
        for side in sides:
            wall = statistics.median(walls[side])
            cpu = statistics.median(cpus[side])
            rows.append(
                {
                    "side": side,
                    "traces": traces,
                    "spans": spans,
                    "wall_s": round(wall, 2),
                    "wall_runs_s": [round(w, 2) for w in walls[side]],
                    "spans_per_s": round(spans / wall),
                    "cpu_s": round(cpu, 2),
                    "cpu_runs_s": [round(c, 2) for c in cpus[side]],
                    "spans_per_cpu_s": round(spans / cpu),
                    "peak_rss_mb": round(statistics.median(rss[side]) / 1024, 1),
                    "peak_rss_runs_mb": [round(r / 1024, 1) for r in rss[side]],
                }
            )
    return rows


def parts_of(path: Path) -> dict[str, float]:
    """CPU seconds of reading ``path`` and of each reader of its chunks, in this
    process (run in a child by :func:`measure_parts`, with a side's ``PYTHONPATH``)."""
    from perfdoctor import gc_paused
    from perfdoctor.analysis import pertrace, sampling
    from perfdoctor.analysis.hotspots import Profiles
    from perfdoctor.analysis.summaries import Endpoints
    from perfdoctor.detectors import all_detectors
    from perfdoctor.settings import Settings
    from perfdoctor.store import chunks

    settings = Settings()
    readers: list[tuple[str, Any]] = [
        (detector.id, detector.session(settings)) for detector in all_detectors()
    ]
    readers += [("endpoint statistics", Endpoints()), ("sampling", sampling.Held())]
    readers += [("profiles", Profiles())]
    spent = dict.fromkeys(["reading", *(name for name, _ in readers), "findings"], 0.0)
    clock = time.process_time
    # The collector as report runs it: between chunks once each is let go when
    # this perfdoctor does that (the collections and the freeing count as reading),
    # else spaced.
    per_chunk = getattr(gc_paused, "gc_per_chunk", None)
    collecting = per_chunk() if per_chunk is not None else gc_paused.gc_spaced()
    with collecting as collector:
        read = iter(chunks.read(path, settings.analysis_chunk_traces).chunks())
        while True:
            started = clock()
            chunk = next(read, None)
            spent["reading"] += clock() - started
            if chunk is None:
                break
            pertrace.forget()
            for name, reader in readers:
                started = clock()
                reader.feed(chunk)
                spent[name] += clock() - started
            if collector is not None:
                started = clock()
                size = len(chunk)
                chunk.clear()
                pertrace.forget()
                # (Paced by traces since the chunk size moved; by chunks before.)
                if "traces" in inspect.signature(collector.chunk_done).parameters:
                    collector.chunk_done(size)
                else:
                    collector.chunk_done()
                spent["reading"] += clock() - started
        started = clock()
        for _name, reader in readers:
            if hasattr(reader, "findings"):
                reader.findings()
        spent["findings"] += clock() - started
    return spent


def measure_parts(
    stores: list[tuple[Path, int, int]], sides: dict[str, Path | None], runs: int
) -> list[dict[str, Any]]:
    rows = []
    for path, traces, spans in stores:
        seconds: dict[str, dict[str, list[float]]] = {side: {} for side in sides}
        for round_ in range(runs):
            order = list(sides)
            if round_ % 2:
                order.reverse()
            for side in order:
                env = dict(os.environ)
                env.pop("PYTHONPATH", None)
                if sides[side] is not None:
                    env["PYTHONPATH"] = str(sides[side])
                # This tree's benchmark, the side's perfdoctor.
                child = subprocess.run(
                    [sys.executable, str(Path(__file__).resolve()), "--parts-of", str(path)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=tempfile.gettempdir(),
                )
                for name, value in json.loads(child.stdout).items():
                    seconds[side].setdefault(name, []).append(value)
        for side in sides:
            medians = {name: statistics.median(v) for name, v in seconds[side].items()}
            total = sum(medians.values())
            rows.append(
                {
                    "side": side,
                    "traces": traces,
                    "spans": spans,
                    "cpu_s": round(total, 2),
                    "spans_per_s": round(spans / total),
                    "parts_s": {name: round(value, 3) for name, value in medians.items()},
                }
            )
    return rows


def print_parts(rows: list[dict[str, Any]], runs: int) -> None:
    print(f"CPU seconds in-process per part, median of {runs} run(s)")
    for spans in dict.fromkeys(row["spans"] for row in rows):
        group = [row for row in rows if row["spans"] == spans]
        names = sorted(group[-1]["parts_s"], key=lambda n: -group[-1]["parts_s"][n])
        print(f"\n{spans} spans   " + "  ".join(f"{row['side']:>22}" for row in group))
        for name in names:
            print(
                f"  {name:<26}"
                + "  ".join(f"{row['parts_s'].get(name, 0.0):>22.2f}" for row in group)
            )
        print(f"  {'total':<26}" + "  ".join(f"{row['cpu_s']:>22.2f}" for row in group))
        print(f"  {'spans/s':<26}" + "  ".join(f"{row['spans_per_s']:>22}" for row in group))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="250000,1000000", help="spans per store, comma-separated"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline-ref", default=None, help="also measure src/ of this git ref")
    parser.add_argument(
        "--store-dir", default=str(Path(tempfile.gettempdir()) / "perfdoctor-bench")
    )
    parser.add_argument("--quick", action="store_true", help="20k spans, one run")
    parser.add_argument("--json", action="store_true", help="the figures as JSON on stdout")
    parser.add_argument(
        "--parts", action="store_true", help="CPU seconds per part, in-process, instead"
    )
    parser.add_argument(
        "--compile-each-run",
        action="store_true",
        help="do not compile the sides first: with PYTHONDONTWRITEBYTECODE set, every run "
        "then compiles perfdoctor again (how RESULTS.md's earlier figures were measured)",
    )
    parser.add_argument(
        "--store",
        action="append",
        default=[],
        metavar="PATH",
        help="measure this store (one captured from a real app) instead of the generated "
        "ones; repeatable",
    )
    parser.add_argument(
        "--scale",
        type=int,
        default=1,
        metavar="N",
        help="with --store: measure a copy holding each trace N times (the copies later "
        "in time), a real app's traffic at N times its size",
    )
    parser.add_argument("--parts-of", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.parts_of:  # the child of --parts
        json.dump(parts_of(Path(args.parts_of)), sys.stdout)
        return
    sizes = [20_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    runs = 1 if args.quick else args.runs
    stores = []
    if args.scale < 1 or (args.scale > 1 and not args.store):
        parser.error("--scale N: N >= 1, with --store")
    # The scaled copies live as long as this process (the folder goes with it).
    scaled = tempfile.TemporaryDirectory(prefix="perfdoctor-scaled-") if args.scale > 1 else None
    if args.store:
        for number, given in enumerate(args.store):
            path = Path(given)
            if not path.is_file():
                parser.error(f"--store {given}: no such file")
            if scaled is not None:
                path = scaled_copy(path, args.scale, Path(scaled.name) / f"{number}-{path.name}")
            stores.append((path, *stored_spans(path)))
    else:
        folder = Path(args.store_dir)
        folder.mkdir(parents=True, exist_ok=True)
        write_app_source()
        for size in sizes:
            path = cached_store(folder, size)
            stores.append((path, *stored_spans(path)))
    with tempfile.TemporaryDirectory() as tmp:
        sides: dict[str, Path | None] = {}
        if args.baseline_ref:
            sides[f"baseline ({args.baseline_ref})"] = baseline_source(args.baseline_ref, Path(tmp))
        sides["this tree"] = None
        if not args.compile_each_run:
            for source in sides.values():
                compile_bytecode(source or REPO / "src")
        rows = (measure_parts if args.parts else measure)(stores, sides, runs)
    if args.json:
        json.dump({"runs": runs, "rows": rows}, sys.stdout, indent=2)
        print()
        return
    if args.parts:
        print_parts(rows, runs)
        return
    print(f"perfdoctor report --format json, median of {runs} run(s)")
    print(
        f"{'side':<22} {'traces':>8} {'spans':>9} {'wall s':>7} {'spans/s':>9} "
        f"{'CPU s':>7} {'spans/CPU s':>11} {'peak RSS MB':>12}"
    )
    for row in rows:
        print(
            f"{row['side']:<22} {row['traces']:>8} {row['spans']:>9} {row['wall_s']:>7.2f} "
            f"{row['spans_per_s']:>9} {row['cpu_s']:>7.2f} {row['spans_per_cpu_s']:>11} "
            f"{row['peak_rss_mb']:>12.1f}"
        )


if __name__ == "__main__":
    main()
