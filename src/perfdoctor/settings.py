"""Every threshold perfdoctor uses, in one place, each with the reason for its default.

Users override any of them in the ``[tool.perfdoctor]`` table of their
``pyproject.toml`` (found by walking up from the current directory)::

    [tool.perfdoctor]
    n_plus_one_min_repeats = 10
    slow_query_p95_ms = 250
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from perfdoctor.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    # N+1: the same query shape from the same line, repeated in one request.
    # Sentry's N+1 DB detector and django-zen-queries trip at a handful of repeats;
    # 5 catches a loop over a small page without flagging a pair of lookups.
    n_plus_one_min_repeats: int = 5
    # Sentry also wants 50 ms of total time, but that figure is for production
    # round trips; a local SQLite answers in microseconds, so the count is the signal.
    n_plus_one_min_total_ms: float = 0.0
    # From this many repeats the finding is an error: it grows with the page size.
    n_plus_one_error_repeats: int = 10

    # Duplicate: the same statement with the same parameters. django-debug-toolbar
    # flags the second run; any repeat is pure waste.
    duplicate_min_count: int = 2

    # Slow query: the seed's budget, "Database query time (p95): < 100ms".
    slow_query_p95_ms: float = 100.0
    # Five times over budget is no longer a tuning matter.
    slow_query_error_factor: float = 5.0

    # Endpoint budget: the seed's "API response time (p95): < 500ms".
    slow_endpoint_p95_ms: float = 500.0

    # --- outbound HTTP ---

    # --- caches ---

    # --- responses and endpoints ---

    # --- database: result sizes, pagination, connections, async ---

    # Capture limits: a runaway script must not eat the host's memory.
    max_spans_per_trace: int = 10_000
    stack_depth: int = 5

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
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    table = data.get("tool", {}).get("perfdoctor", {})
    return settings_from_mapping(table, source=str(path))


def settings_from_mapping(table: dict[str, Any], source: str = "[tool.perfdoctor]") -> Settings:
    known = {f.name: f for f in fields(Settings)}
    changes: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if not isinstance(value, int | float | str | bool | list | dict):
            continue
        if isinstance(value, dict | list):
            # Sub-tables belong to other features (budgets, lint selection).
            continue
        if name not in known:
            raise ConfigError(
                f"{source}: unknown setting {key!r} in [tool.perfdoctor]; "
                f"known settings: {', '.join(sorted(known))}"
            )
        default = getattr(Settings(), name)
        if isinstance(default, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{source}: {key} must be a number, got {value!r}")
        changes[name] = type(default)(value)
    return Settings().replace(**changes)
