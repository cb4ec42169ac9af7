"""Every threshold perfdoctor uses, in one place, each with the reason for its default.

Users override any of them in the ``[tool.perfdoctor]`` table of their
``pyproject.toml`` (found by walking up from the current directory)::

    [tool.perfdoctor]
    n_plus_one_min_repeats = 10
    slow_query_p95_ms = 250
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from perfdoctor import _toml
from perfdoctor.errors import ConfigError
from perfdoctor.suppress.rules import IgnoreRule, parse_rules


@dataclass(frozen=True)
class Settings:
    # N+1: the same query shape from the same line, repeated in one request.
    # Sentry's N+1 DB detector and django-zen-queries trip at a handful of repeats;
    # 5 catches a loop over a small page without flagging a pair of lookups.
    n_plus_one_min_repeats: int = 5
    # Sentry also wants 50 ms of total time, but that figure is for production
    # round trips; a local SQLite answers in microseconds, so the count is the signal.
    n_plus_one_min_total_ms: float = 0.0
    # Fewer repeats are an N+1 too when the shape proves the loop: the parent query
    # (the read just before, not itself repeated) fetched at least as many rows as
    # the loop ran queries. From 3, not 2: benchmarks/n_plus_one_threshold.py
    # (RESULTS.md) measured the recall gained and the noise let in at each value.
    n_plus_one_proven_min_repeats: int = 3
    # From this many repeats the finding is an error: it grows with the page size.
    n_plus_one_error_repeats: int = 10
    # An N+1 seen in fewer than this share of its endpoint's requests (once it has
    # this many) is a step less severe, and says so: the others ran without it.
    # Wagtail's bakery demo read its cards' image renditions one row at a time in
    # 2 of 604 requests (the first of each worker, before its cache held them),
    # and those five ranked above the N+1s of every request.
    n_plus_one_seldom_share: float = 0.1
    n_plus_one_seldom_min_requests: int = 20

    # Duplicate: the same statement with the same parameters. django-debug-toolbar
    # flags the second run; any repeat is pure waste.
    duplicate_min_count: int = 2
    # Copies from ONE line this many times are a repeat per row (a serializer field,
    # a property read in a loop): the fix is "compute once", and the query may be
    # missing the row's key. Two could be a retry or a re-read after a write.
    duplicate_per_row_count: int = 3

    # Slow query: the seed's budget, "Database query time (p95): < 100ms".
    slow_query_p95_ms: float = 100.0
    # Five times over budget is no longer a tuning matter.
    slow_query_error_factor: float = 5.0

    # Endpoint budget: the seed's "API response time (p95): < 500ms".
    slow_endpoint_p95_ms: float = 500.0
    # Job budget: the seed's "Background job processing time: < 30s", the p95 of a
    # task's run (its trace: from start to end, the wait in the queue apart).
    slow_job_p95_ms: float = 30_000.0

    # unused-eager-load: a select_related/prefetch_related/joinedload/selectinload no
    # code read in a request. nplusone and Bullet report any such load, even on one
    # row: the JOIN or extra query is spent whatever the row count, so 1.
    unused_eager_load_min_rows: int = 1
    # From this many rows it is a warning, not a note: the JOINed columns (or the
    # prefetched rows) grow with the page; 20 is the usual page size (DRF, the demo).
    unused_eager_load_warning_rows: int = 20
    # Capture: at most this many rows and prefetched collections watched for reads
    # at once (ids only, ~100 bytes each: a few MB). A load past it is not recorded,
    # hence never judged, rather than judged on part of its rows.
    eager_watch_max_objects: int = 50_000

    # --- outbound HTTP ---
    # n-plus-one-http: the same endpoint (method + URL template) from one line, this
    # many times in one request. Sentry's N+1 DB detector trips at 5 (its N+1 API
    # calls detector wants 10, for browser fetches); 5 matches n_plus_one_min_repeats.
    n_plus_one_http_min_repeats: int = 5
    # Sentry's N+1 API calls detector also wants 300 ms in total on production round
    # trips; an upstream on the same host answers in a few ms, so 50 ms (five calls
    # of 10 ms) is the floor here: below it the repetition costs nothing measurable.
    n_plus_one_http_min_total_ms: float = 50.0
    # From this many calls the finding is an error: it grows with the data.
    n_plus_one_http_error_repeats: int = 10
    # sequential-http: Sentry's Consecutive HTTP detector wants 3 calls in a row...
    sequential_http_min_calls: int = 3
    # ...and a saving worth a change: it asks seconds of production time; 50 ms
    # (a tenth of the 500 ms endpoint budget) is measurable on any upstream.
    sequential_http_min_saved_ms: float = 50.0
    # Calls further apart than this (Sentry's max gap between consecutive spans is
    # 1 s; ours is tighter) likely wait on work done with the previous answer.
    sequential_http_max_gap_ms: float = 100.0
    # uncached-external: the same GET with the same answer this many times across
    # the captured requests (like missing_http_cache_min_identical: four calls a
    # cache would have saved), from at least two requests (one request repeating a
    # call is a duplicate inside it, n-plus-one-http's business).
    uncached_external_min_calls: int = 5
    uncached_external_min_traces: int = 2

    # --- caches ---
    # cache-no-ttl: one write without expiry is enough. Redis keeps such a key
    # until it is deleted (its default maxmemory-policy, noeviction, then refuses
    # writes when memory is full) and the value is never refreshed.
    cache_no_ttl_min_writes: int = 1
    # cache-shared-key: one read by a second user of what the first one wrote is
    # already a data leak; there is no "acceptable" count.
    cache_shared_key_min_users: int = 2
    # cache-candidate: the identical read seen in this many requests of an endpoint.
    # Caching pays once a value is read again: one run fills the cache and every
    # later one is saved; three requests (perfdoctor audit's default rounds) show
    # a repeat that is not a coincidence of two.
    cache_candidate_min_traces: int = 3
    # ... and each run costing at least this much (median). A cache hit costs
    # about a millisecond (a Redis/memcached round trip and unpickling), so a read
    # under ~10 ms gains too little to be worth serving stale data.
    cache_candidate_min_p50_ms: float = 10.0
    # The TTL suggested in the fix: Django's default cache TIMEOUT (300 s).
    cache_candidate_suggested_ttl_s: int = 300

    # --- responses and endpoints ---
    # Responses: JSON bodies up to this size are parsed for their item count, and
    # bodies up to it digested. json.loads of 5 MB costs a few ms of the worker's time
    # after the response is sent; a bigger body is flagged by its bytes alone.
    response_parse_max_bytes: int = 5_000_000
    # missing-pagination: GitHub's REST API and Django admin cap a page at 100 items,
    # DRF examples use 10-100: a list answer beyond 100 items with no paging has none.
    missing_pagination_min_items: int = 100
    # Ten such pages in one answer: the list grows with the table, an error.
    missing_pagination_error_items: int = 1_000
    # missing-http-cache: five identical 200s from one endpoint (four a cache would
    # have saved); fewer repeats are too often a coincidence of a short test run.
    missing_http_cache_min_identical: int = 5
    # Below 1 KB a conditional round trip saves next to nothing over resending.
    missing_http_cache_min_bytes: int = 1_024
    # slow-endpoint: error at four times the budget (2 s at 500 ms: past Nielsen's
    # 1 s limit for a user's flow of thought, twice over).
    slow_endpoint_error_factor: float = 4.0
    # high-memory: the seed's budget, "Memory per request: < 100MB"; a warning at
    # half of it, while there is still room.
    high_memory_warning_kb: int = 50 * 1024
    high_memory_error_kb: int = 100 * 1024
    # --memory: allocation sites are looked up (a tracemalloc snapshot: tens to
    # hundreds of ms) only for a request that grew past the high-memory warning, the
    # only ones reported; the level is checked every 5 ms while requests run.
    memory_sites_min_kb: int = 50 * 1024
    memory_sample_interval_ms: float = 5.0
    # Frames tracemalloc keeps per allocation: each one multiplies its cost (1 frame
    # makes allocations ~8x slower, 12 frames ~25x); with 1, a site is the line that
    # allocated, reported when it is the user's code.
    memory_frames: int = 1
    # background-job-candidate: an endpoint whose p95 is over a quarter of a second
    # (half the endpoint budget) and spends most of it (>= 50%, median request) on
    # outbound writes (POST/PUT/PATCH/DELETE calls) the response does not wait for.
    background_job_min_ms: float = 250.0
    background_job_min_share: float = 0.5
    # ...and only writes answered with an acknowledgement (202/204, or at most 1 KB:
    # {"id": ..., "status": "queued"}); a bigger answer may be what the page shows.
    background_job_max_reply_bytes: int = 1_024

    # --- database: result sizes, pagination, connections, async ---
    # unbounded-query: a SELECT with no LIMIT that returned this many rows. Page
    # sizes in Django's and DRF's docs are 10-100 rows and DRF caps max_page_size
    # in the hundreds; 1000 rows is ten of the largest pages in one response.
    unbounded_query_min_rows: int = 1000
    # Ten times that: memory and time now grow with the table, not the page.
    unbounded_query_error_rows: int = 10_000
    # large-offset: the database reads and throws away every skipped row; Markus
    # Winand (use-the-index-luke, "no offset") shows the cost growing linearly, and
    # 1000 skipped rows is page 51 of 20, the depth where it starts to show.
    large_offset_min: int = 1000
    # Page 500 of 20: the skipped rows dwarf the page itself.
    large_offset_error: int = 10_000
    # select-star: every column loaded for this many rows (half an unbounded
    # query's threshold: wide columns make each row costlier).
    select_star_min_rows: int = 500
    # python-side-aggregation: this many rows fetched (the unbounded-query figure)...
    python_aggregation_min_rows: int = 1000
    # ...for a response no bigger than this: a few numbers in a JSON object, not
    # the rows (1 KB; a page of 20 items is already several KB).
    python_aggregation_max_response_bytes: int = 1024
    # no-connection-reuse: at least this many requests of an endpoint opened a
    # connection (a pool's first connections open in the first requests)...
    no_connection_reuse_min_requests: int = 3
    # ...when this share of them opened a new connection (a pool opens one now
    # and then; most requests doing so means none is kept).
    no_connection_reuse_min_share: float = 0.5
    # sequential-db: Sentry's consecutive-DB-queries detector defaults, at least
    # two queries in a row whose overlap would save 100 ms.
    sequential_db_min_queries: int = 2
    sequential_db_min_saving_ms: float = 100.0
    # blocking-in-async: asyncio's debug mode reports a callback that holds the
    # loop for over 100 ms (loop.slow_callback_duration); the same bar per request.
    blocking_in_async_min_ms: float = 100.0
    # Half a second frozen stops every request the worker serves: an error.
    blocking_in_async_error_ms: float = 500.0

    # --- the machine while requests were measured (capture's machine sample) ---
    # A slow request measured on a busy machine also waited for a CPU: slow-endpoint
    # and slow-query say so. Busy is any of three. A load average at the CPU count:
    # on average every CPU had a task to run, and any more queue (load over the CPU
    # count is the usual reading of CPU saturation).
    machine_busy_load_per_cpu: float = 1.0
    # Linux CPU pressure (PSI some avg10): runnable tasks waited for a CPU a fifth of
    # the last 10 s. An idle laptop or CI runner reads a few %, a CPU-bound
    # neighbour per CPU drives it towards 100 %.
    machine_busy_cpu_pressure_pct: float = 20.0
    # Steal: a VM's CPUs given to other guests. "Over 10 % for 20 minutes" is the
    # usual line for a VM running slower than it should (a noisy neighbour).
    machine_busy_steal_pct: float = 10.0
    # The finding is called busy when at least half of its requests over the budget
    # were measured on a busy machine (one busy moment among many slow requests does
    # not explain them), and half of them could be within it on a quiet machine: a
    # request whose time on the CPU alone is over the budget is slow anywhere, and
    # its finding only says the figures came from a busy machine.
    machine_busy_min_share: float = 0.5
    # slow-endpoint: a median request that spent at least half its time outside
    # any query, HTTP or cache call AND off the CPU waited for something capture
    # does not see (a CPU on a busy machine, a sleep, a lock, a subprocess): said
    # in the evidence, as that time is not the work of the code it points at.
    off_cpu_min_share: float = 0.5

    # Capture limits: a runaway script must not eat the host's memory.
    max_spans_per_trace: int = 10_000
    stack_depth: int = 5
    # At exit a process writes its last traces for at most this long, then sets
    # them aside beside the store (another process holds it) for the next report:
    # gunicorn kills a worker 30 s into a graceful stop, and a one-query script
    # must not take minutes to end.  A free store takes a batch in milliseconds.
    # `perfdoctor run --exit-timeout` overrides it.
    exit_flush_timeout_s: float = 2.0
    # The trace store's size cap in MB (0: none); past it the oldest traces are
    # dropped (perfdoctor.store.retention). `report` reads the whole store into memory:
    # benchmarks/store_size.py measured about 1 s of CPU and 20 MB of memory per MB of
    # an N+1-heavy store, so 100 MB is about what a laptop reports on in a few
    # minutes (50,000 such requests, or 200,000 small ones); disk is not the limit.
    max_store_mb: float = 100.0
    # `run --sample`: the share of requests whose traces are kept (1: all). A
    # sampled report scales its counts by what was seen (perfdoctor.analysis.sampling).
    sample_rate: float = 1.0
    # With sampling, a request at least this slow is always kept (the tail rule):
    # the endpoint budget, so no request over it goes unseen.
    sample_slow_ms: float = 500.0
    # What a slow or failed request the head draw left out keeps. "full": every
    # request is captured as it runs, so those keep their queries and lines, and
    # sampling saves only the encoding and storing. "summary": only drawn requests
    # are captured, the others keep their endpoint, status and timings; what is
    # cheap enough to leave on (benchmarks/RESULTS.md, --sample-tail).
    sample_tail: str = "full"

    # --- perfdoctor run --live: a line per request on the terminal ---
    # Ten lines a second is a screenful in three seconds, faster than anyone reads
    # them, yet lets through every request of a page load (the page and its few
    # XHRs); past it requests are summed up once a second ("… 250 more requests").
    live_max_lines_per_s: int = 10
    # An identical line of one endpoint (same status, queries and findings) shows
    # this many times per window, then the rest become one "×57 more like this"
    # line: a person reloading a page to check a change does so once or twice; a
    # fourth identical request within seconds is a client polling or a load test.
    live_repeat_lines: int = 3
    live_repeat_window_s: float = 10.0
    # Requests run through the detectors per second, the rest only counted: an N+1
    # request of 40 queries takes about a millisecond of detector time
    # (benchmarks/RESULTS.md, live lines), so this bounds the live lines' CPU to
    # about a tenth of one core under a load test.
    live_max_analysed_per_s: int = 100
    # How often the store is read for new requests: the app writes its traces
    # every 0.1 s, so a line shows within about a third of a second (within about
    # a second and a quarter under heavy traffic: perfdoctor.capture.recorder).
    live_poll_s: float = 0.2

    # --- perfdoctor import otlp ---
    # One OTLP JSON line is one exported batch: the SDK's batch processor sends
    # 512 spans at most (OTEL_BSP_MAX_EXPORT_BATCH_SIZE) and the Collector's batch
    # processor 8,192 by default, a few MB of JSON at ~1 kB a span.  A longer line
    # is refused unread: parsing 32 MB of JSON already takes a few hundred MB.
    otlp_max_line_bytes: int = 32 * 1024 * 1024

    # --- perfdoctor collect ---
    # A request body (and the same body unzipped) larger than this is refused with
    # 413: 20 MiB is the Collector's own OTLP/HTTP receiver default.
    collect_max_body_bytes: int = 20 * 1024 * 1024
    # Decoded spans waiting for the store writer; past this a request is refused
    # with 429 and Retry-After, and the sender retries (the OTLP spec's backpressure).
    # A decoded span holds about 1-2 kB of Python objects: ~100 MB at most here.
    collect_queue_spans: int = 50_000
    # What 429/503 ask the sender to wait, in seconds.
    collect_retry_after_s: int = 2
    # Requests decoded at once; more answer 503 before their body is read, so a
    # burst of connections cannot hold many bodies in memory together.
    collect_max_inflight: int = 8
    # Spans whose trace root has not come yet wait this long for it (SDKs export
    # children before the root ends) before they are written on their own; the
    # root, when it comes later, is merged into them.
    collect_hold_s: float = 10.0

    # --- database advisor ---
    # The seed: "Small tables (< ~1,000 rows) — index overhead not worth it".
    advisor_min_table_rows: int = 1_000
    # The seed's other "do not index": low-cardinality columns (a boolean has two
    # values) and skewed ones ("a boolean that's 99% true"): skipped when the most
    # common value holds this share of the rows or more.
    advisor_low_cardinality_distinct: int = 2
    advisor_skewed_top_share: float = 0.9
    # A candidate is kept only if it cuts a query's plan cost by this much:
    # Dexter (the PostgreSQL auto-indexer) keeps an index at a 50% cost saving.
    advisor_min_cost_saving_pct: float = 50.0
    # Never wait long for a lock nor run long: 1 s lock_timeout is what migration
    # linters (squawk, strong_migrations' guidance) ask for on a live database, and
    # 5 s bounds any one EXPLAIN, trial index or sample.
    advisor_lock_timeout_ms: int = 1_000
    advisor_statement_timeout_ms: int = 5_000
    # Without HypoPG a candidate is tried by building it for real (then rolled back),
    # which locks its table; before asking for --allow-locks the advisor estimates that
    # lock by building the same index on a sample copied to a temporary table, scaled
    # to the table's rows as a sort grows (n log n).  With 10,000 rows the estimate
    # came within 15% of the real build on PostgreSQL 15 (100,000 to 2,000,000 rows)
    # and ~25% under it on SQLite; the byte cap bounds the copy of wide rows.
    advisor_build_sample_rows: int = 10_000
    advisor_build_sample_bytes: int = 16 * 1024 * 1024
    # SQLite: a trial build holds the database's write lock.  A build over 1,000,000
    # rows took 0.3-0.5 s on a 2-CPU machine, under the 1 s lock wait the advisor
    # accepts for itself; a table this big or bigger needs --allow-locks.
    advisor_sqlite_ask_rows: int = 1_000_000
    # A statement longer than this is a generated blob, not a query to tune.
    advisor_max_statement_bytes: int = 100_000
    # How many statements from the trace store, by total time (Dexter looks at
    # the top of pg_stat_statements the same way).
    advisor_max_queries: int = 50
    # Rows read to estimate a column's cardinality where the database has no statistics.
    advisor_sample_rows: int = 100_000
    # EXPLAIN ANALYZE: an estimate this many times off the rows returned is a
    # problem (a factor of 10 is the usual "stale statistics" line, as in pgMustard).
    advisor_estimate_mismatch_factor: float = 10.0

    # --- compare ---
    # Bootstrap resamples: Efron & Tibshirani ask for at least 1,000 for a percentile
    # interval's tails to settle (25-200 do for a standard error only).
    compare_resamples: int = 2_000
    # The usual 95% interval; --confidence overrides it per run.
    compare_confidence: float = 0.95
    # A change smaller than this, in the median, is "no detectable change" even when
    # it is outside the noise: asv (airspeed velocity) calls 10% a change by default.
    compare_min_change_pct: float = 10.0
    # Two separate runs: the round-level interval covers drift inside each run, not
    # between them (CPU frequency, memory layout, a neighbour that came or went), so a
    # change must also exceed this allowance. Set from A/A runs of the same code on a
    # quiet and on a loaded machine (benchmarks/compare_noise.py, RESULTS.md).
    compare_run_drift_pct: float = 5.0
    # ... and this one when a run did not have the machine to itself: other processes
    # took at least compare_other_work_pct of all CPUs' time (median over its rounds),
    # or the two runs' CPU pressure (share of time a task waited for a CPU) differs
    # by compare_pressure_mismatch_pct points. With one CPU-bound neighbour process
    # on a 2-CPU machine, unchanged code differed by up to 60% between two runs
    # while no task waited for a CPU (benchmarks/compare_noise.py).
    compare_busy_drift_pct: float = 75.0
    compare_other_work_pct: float = 25.0
    compare_pressure_mismatch_pct: float = 20.0
    # ... or a fixed piece of pure-Python work, timed after every round on the app's
    # CPU, took this much longer or shorter in one run: this shared machine has
    # phases (seconds to minutes, no other process of its own running) in which
    # everything runs about 40% slower; the canary and the app slowed alike.
    compare_speed_mismatch_pct: float = 10.0
    # Fewer latency samples than this on either side gives no verdict: the percentile
    # bootstrap under-covers on tiny samples (a median of 5 values has 5 possible values).
    compare_min_samples: int = 10

    # perfdoctor watch: an endpoint alerts when this share of its requests in the
    # window answered 5xx. 5 % is the usual "page someone" line of SLO burn alerts
    # (a 99.9 % availability target burning 50x faster than budgeted), well above
    # the odd failed request a healthy service has.
    watch_error_rate: float = 0.05
    # ... and only with at least this many requests in the window: one failure out
    # of two requests is 50 % and tells nothing.
    watch_error_min_requests: int = 5
    # A finding new to the window alerts from this severity up: "info" findings are
    # advice for the next change, not something to wake a channel for.
    watch_new_finding_min_severity: str = "warning"
    # The webhook call: Slack answers in well under a second; 5 s is a slow network,
    # not a dead one, and keeps a pass from waiting on it for long.
    watch_webhook_timeout_s: float = 5.0
    # Attempts per message, waiting 0.5 s, 1 s, ... between them: rides over a
    # restart of the receiver without holding the next pass back by more than seconds.
    watch_webhook_attempts: int = 3
    watch_webhook_backoff_s: float = 0.5

    # --- analysis ---
    # Traces of one endpoint analysed at a time (perfdoctor.analysis.analyze): what report
    # holds in memory is one chunk plus per-shape summaries.  Each of ~25 readers
    # walks the whole chunk in turn, so a chunk that stays in the CPU's caches
    # between them is read faster: 100 traces of ~20 spans (~2,000 model spans,
    # under 1 MB) took 15-25% less CPU than 500 on a 1M-span store (the more,
    # the busier the machine's shared cache); 50 was no faster, and past that
    # the per-chunk steps (a query, ~25 calls) start to count
    # (benchmarks/analysis_scale.py, RESULTS.md).
    analysis_chunk_traces: int = 100
    # Values kept exactly for a percentile or a median: a query shape's durations, an
    # endpoint's latencies (with their sampling weights), CPU and off-CPU times.  Past
    # this many (8 bytes each: 80 KB), they go into 1%-wide buckets
    # (perfdoctor.analysis.stats.Quantiles and Weighted: a few KB, percentiles within
    # 0.5%), so report's memory stops growing with the traces.  A day of a service
    # at 100 requests/s over 100 endpoints is ~86k requests an endpoint: 100,000
    # held ~480 MB of latencies, CPU and wait times for it; 10,000 holds ~56 MB at
    # most, and a p95 past it is as good as a run-to-run difference can tell.
    exact_percentile_values: int = 10_000
    # cache-candidate keeps each distinct read (endpoint, statement, parameters)
    # it has seen once, waiting for it to come back: ~300 bytes each, and reads
    # whose parameters are new in every request (a user's id) add one per request.
    # Past this many (~15 MB), the oldest of them are forgotten (reads seen twice
    # or more are all kept): a read that comes back only after this many other
    # new reads is counted from its return, one run short, or not at all.
    cache_candidate_max_reads: int = 50_000

    # [[tool.perfdoctor.ignore]] rules (perfdoctor.suppress.rules): not a threshold,
    # but read with them so every command that analyses honours the same ignores.
    ignore: tuple[IgnoreRule, ...] = ()

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def find_pyproject(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_settings(pyproject: Path | None = None) -> Settings:
    """Defaults, overridden by ``[tool.perfdoctor]`` of the nearest pyproject.toml."""
    path = pyproject or find_pyproject()
    if path is None:
        return Settings()
    try:
        data = _toml.loads(path.read_text(encoding="utf-8"))
    except (OSError, _toml.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    table = data.get("tool", {}).get("perfdoctor", {})
    return settings_from_mapping(table, source=str(path))


def settings_from_mapping(table: dict[str, Any], source: str = "[tool.perfdoctor]") -> Settings:
    known = {f.name: f for f in fields(Settings)}
    changes: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name == "ignore":
            changes["ignore"] = parse_rules(value, source)
            continue
        if not isinstance(value, (int, float, str, bool, list, dict)):
            continue
        if isinstance(value, (dict, list)) or name == "budgets":
            # Sub-tables belong to other features (budgets, lint selection); a
            # `budgets` that is not a table is perfdoctor.analysis.budgets' error to report.
            continue
        if name not in known:
            raise ConfigError(
                f"{source}: unknown setting {key!r} in [tool.perfdoctor]; "
                f"known settings: {', '.join(sorted(known))}"
            )
        default = getattr(Settings(), name)
        if isinstance(default, str):  # a name (a severity); its command checks the value
            if not isinstance(value, str):
                raise ConfigError(f"{source}: {key} must be a string, got {value!r}")
            changes[name] = value
            continue
        if isinstance(default, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: {key} must be a number, got {value!r}")
        changes[name] = type(default)(value)
    return Settings().replace(**changes)
