"""``perfdoctor merge``: two shards of the Flask blog, each its own store and report.

Both shards serve the same app (the N+1 on ``/articles``), with different
traffic (only shard B serves ``/articles/{id}``); both reports run under the
fleet's settings: a 1 µs endpoint budget (a slow-endpoint finding on every
endpoint a shard served) and an ignore rule (one of them suppressed on both).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.capture.apps_support import (
    FLASK_APP,
    app_env,
    console_script,
    count_named,
    finding_at,
    get_ok,
    seed,
    wait_for_traces,
)
from tests.conftest import free_port, report_json, run_perfdoctor, serve_under_perfdoctor

N_PLUS_ONE = "n-plus-one-query"
SETTINGS = """\
[tool.perfdoctor]
slow_endpoint_p95_ms = 0.001

[[tool.perfdoctor.ignore]]
id = "slow-endpoint"
endpoint = "GET /articles/fixed"
reason = "a report page, slow by design"
"""


@dataclass
class Shards:
    folder: Path
    a: dict[str, Any]
    b: dict[str, Any]
    a_path: Path
    b_path: Path


def _shard(folder: Path, env: dict[str, str], articles: int, details: int) -> Path:
    """Serve the blog under ``perfdoctor run`` and drive it; its store."""
    traces = folder / "traces.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [console_script("flask"), "--app", "app", "run", "--port", str(port)]
    with serve_under_perfdoctor(command, traces, f"{base}/pid", cwd=FLASK_APP, env=env):
        for _ in range(articles):
            get_ok(f"{base}/articles")
            get_ok(f"{base}/articles/fixed")
        for article_id in range(1, details + 1):
            get_ok(f"{base}/articles/{article_id}")
        wait_for_traces(traces, count_named("GET /articles", articles))
    return traces


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Shards:
    folder = tmp_path_factory.mktemp("shards")
    env = app_env(BLOG_DATABASE_URL=f"sqlite:///{folder / 'blog.db'}")
    seed(FLASK_APP, env)
    (folder / "a").mkdir()
    (folder / "b").mkdir()
    (folder / "a" / "pyproject.toml").write_text(SETTINGS)
    (folder / "b" / "pyproject.toml").write_text(SETTINGS)
    a = report_json(_shard(folder / "a", env, articles=2, details=0), cwd=folder / "a")
    b = report_json(_shard(folder / "b", env, articles=4, details=3), cwd=folder / "b")
    a_path, b_path = folder / "a.json", folder / "b.json"
    a_path.write_text(json.dumps(a))
    b_path.write_text(json.dumps(b))
    return Shards(folder, a, b, a_path, b_path)


def _merge(shards: Shards, *args: str) -> Any:
    result = run_perfdoctor("merge", "a.json", "b.json", *args, cwd=shards.folder)
    assert result.returncode == 0, result.stderr
    return result


def _merged(shards: Shards) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_merge(shards, "--format", "json").stdout)
    return data


def test_the_n_plus_one_counts_every_shard_and_shows_the_worst_example(shards: Shards) -> None:
    a = finding_at(shards.a, N_PLUS_ONE, "GET /articles")
    b = finding_at(shards.b, N_PLUS_ONE, "GET /articles")
    assert a["fingerprint"] == b["fingerprint"]
    merged = finding_at(_merged(shards), N_PLUS_ONE, "GET /articles")
    assert merged["evidence"]["requests_affected"] == 2 + 4
    worst = max(a, b, key=lambda f: f["evidence"]["loop_ms"])
    assert merged["evidence"]["loop_ms"] == worst["evidence"]["loop_ms"]
    assert merged["trace_id"] == worst["trace_id"]
    # The mean over all six requests: each shard's weighted by its requests.
    means = (a["evidence"]["mean_ms"]["loop_ms"] * 2 + b["evidence"]["mean_ms"]["loop_ms"] * 4) / 6
    assert merged["evidence"]["mean_ms"]["loop_ms"] == pytest.approx(means, abs=0.001)


def test_an_endpoint_finding_counts_every_shards_requests(shards: Shards) -> None:
    a = finding_at(shards.a, "slow-endpoint", "GET /articles")
    b = finding_at(shards.b, "slow-endpoint", "GET /articles")
    merged = finding_at(_merged(shards), "slow-endpoint", "GET /articles")
    assert merged["evidence"]["requests"] == 2 + 4
    assert merged["evidence"]["requests_affected"] == (
        a["evidence"]["requests_affected"] + b["evidence"]["requests_affected"]
    )


def test_a_finding_on_one_shard_only_is_kept_as_it_was(shards: Shards) -> None:
    merged = _merged(shards)
    only_b = finding_at(shards.b, "slow-endpoint", "GET /articles/{id}")
    assert not [f for f in shards.a["findings"] if f["fingerprint"] == only_b["fingerprint"]]
    assert finding_at(merged, "slow-endpoint", "GET /articles/{id}") == only_b
    # Most severe first, as `report` orders them.
    ranks = [{"error": 0, "warning": 1, "info": 2}[f["severity"]] for f in merged["findings"]]
    assert ranks == sorted(ranks)
    # What the shards' rule ignored stays ignored, and counted once.
    assert not [f for f in merged["findings"] if f["endpoint"] == "GET /articles/fixed"]
    assert shards.a["suppressed"]["ignored"] == shards.b["suppressed"]["ignored"] == 1
    assert merged["suppressed"]["ignored"] == 1


def test_endpoints_sum_requests_and_keep_each_shards_percentiles(shards: Shards) -> None:
    merged = _merged(shards)
    [articles] = [e for e in merged["endpoints"] if e["name"] == "GET /articles"]
    [a] = [e for e in shards.a["endpoints"] if e["name"] == "GET /articles"]
    [b] = [e for e in shards.b["endpoints"] if e["name"] == "GET /articles"]
    assert articles["requests"] == 6
    assert articles["p95_ms"] == max(a["p95_ms"], b["p95_ms"])
    assert articles["queries_per_request"] == pytest.approx(
        (a["queries_per_request"] * 2 + b["queries_per_request"] * 4) / 6, abs=0.001
    )
    per_shard = merged["merged"]["endpoints"]["GET /articles"]
    assert [(row["report"], row["requests"], row["p95_ms"]) for row in per_shard] == [
        ("a.json", 2, a["p95_ms"]),
        ("b.json", 4, b["p95_ms"]),
    ]


def test_the_text_report_says_what_was_merged(shards: Shards) -> None:
    text = _merge(shards).stdout
    lines = text.splitlines()
    assert lines[1] == (
        "Merged from 2 reports: a.json, b.json (--format json: each one's endpoint figures)."
    )
    assert "p50/p95/p99: the highest shard's (an upper bound on the fleet's)" in lines[2]
    # The panels' lines joined: rich folds the evidence where the width says.
    panels = " ".join(line.strip(" │") for line in lines)
    assert "requests affected: 6" in panels
    assert "1 finding ignored by" in text
    [row] = [line for line in lines if line.startswith("GET /articles ")]
    assert row.split()[2] == "6"


def test_fail_on_reads_the_merged_findings(shards: Shards) -> None:
    # The N+1 is an error on both shards: merged, it still fails the build.
    result = run_perfdoctor("merge", "a.json", "b.json", "--fail-on", "error", cwd=shards.folder)
    assert result.returncode == 1, result.stderr


def test_html_and_an_output_file(shards: Shards) -> None:
    out = shards.folder / "fleet.html"
    result = _merge(shards, "--format", "html", "-o", str(out))
    assert "wrote html report" in result.stderr
    page = out.read_text()
    assert 'id="merged">Merged from 2 reports' in page
    assert "GET /articles/{id}" in page


def test_bad_inputs_each_get_one_line_and_exit_2(shards: Shards, tmp_path: Path) -> None:
    other_version = json.loads(shards.a_path.read_text())
    other_version["version"] = 2
    inputs = {
        "v2.json": json.dumps(other_version),
        "compare.json": json.dumps({"tool": "perfdoctor compare", "endpoints": []}),
        "notes.json": "not json at all",
    }
    for name, text in inputs.items():
        (tmp_path / name).write_text(text)
    paths = [str(tmp_path / name) for name in inputs]
    missing = str(tmp_path / "missing.json")
    result = run_perfdoctor("merge", str(shards.a_path), *paths, missing, str(shards.a_path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"perfdoctor: error: {paths[0]}: report version 2, this perfdoctor reads version 1; "
        "make the reports with the same perfdoctor",
        f"perfdoctor: error: {paths[1]}: a `perfdoctor compare` result, not a "
        "`perfdoctor report --format json`; make each with "
        "`perfdoctor report --format json -o FILE` on its shard",
        f"perfdoctor: error: {paths[2]}: not JSON (Expecting value: line 1 column 1 (char 0)); "
        "make each with `perfdoctor report --format json -o FILE` on its shard",
        f"perfdoctor: error: {missing}: cannot read it (No such file or directory)",
        f"perfdoctor: error: {shards.a_path}: given twice; merged twice, its requests "
        "would count twice",
    ]
