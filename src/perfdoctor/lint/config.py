"""Which rules run on which file: ``[tool.perfdoctor.lint]`` and the command line.

[tool.perfdoctor.lint]
select = ["PD1", "PD201"]        # code prefixes; default: every rule
ignore = ["PD106"]
per-file-ignores = { "tests/*" = ["PD102"] }
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfdoctor import _toml
from perfdoctor.errors import ConfigError, UsageError
from perfdoctor.lint.base import RULES, Rule


@dataclass
class LintConfig:
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def rules_for(self, path: str) -> list[Rule]:
        ignored = self._ignored(path)
        return [
            r
            for r in RULES.values()
            if (not self.select or r.code.startswith(self.select))
            and not r.code.startswith(ignored)
        ]

    def ignores(self, code: str, path: str) -> bool:
        """Whether ``code`` is ignored for ``path`` (by --ignore or per-file-ignores).

        Not --select: a file that cannot be parsed (PD001) is reported whichever
        rules were chosen, since none of them checked it."""
        return code.startswith(self._ignored(path))

    def _ignored(self, path: str) -> tuple[str, ...]:
        ignored = list(self.ignore)
        for pattern, codes in self.per_file_ignores.items():
            if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(Path(path).name, pattern):
                ignored.extend(codes)
        return tuple(ignored)


def _codes(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in value.replace(" ", ",").split(",") if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of rule codes, got {value!r}")
    codes = tuple(v.strip().upper() for v in value)
    for code in codes:
        if not any(known.startswith(code) for known in RULES):
            raise UsageError(
                f"{where}: no lint rule has the code {code!r}; known codes: {', '.join(RULES)}"
            )
    return codes


def load_config(
    start: Path | None = None,
    select: Sequence[str] | str | None = None,
    ignore: Sequence[str] | str | None = None,
) -> LintConfig:
    """``[tool.perfdoctor.lint]`` of the nearest pyproject.toml, then the command line's."""
    from perfdoctor.settings import find_pyproject

    config = LintConfig()
    pyproject = find_pyproject(start)
    if pyproject is not None:
        try:
            data = _toml.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, _toml.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {pyproject}: {exc}") from exc
        table = data.get("tool", {}).get("perfdoctor", {}).get("lint", {})
        where = f"{pyproject}: [tool.perfdoctor.lint]"
        for key in table:
            if key.replace("_", "-") not in ("select", "ignore", "per-file-ignores"):
                raise ConfigError(
                    f"{where}: unknown key {key!r}; known: select, ignore, per-file-ignores"
                )
        if "select" in table:
            config.select = _codes(table["select"], f"{where} select")
        if "ignore" in table:
            config.ignore = _codes(table["ignore"], f"{where} ignore")
        pfi = table.get("per-file-ignores", table.get("per_file_ignores", {}))
        if not isinstance(pfi, dict):
            raise ConfigError(f"{where} per-file-ignores must be a table of glob = [codes]")
        config.per_file_ignores = {
            k: _codes(v, f"{where} per-file-ignores") for k, v in pfi.items()
        }
    if select:
        config.select = _codes(list(select) if not isinstance(select, str) else select, "--select")
    if ignore:
        config.ignore = config.ignore + _codes(
            list(ignore) if not isinstance(ignore, str) else ignore, "--ignore"
        )
    return config
