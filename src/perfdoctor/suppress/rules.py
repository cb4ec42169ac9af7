"""``[[tool.perfdoctor.ignore]]``: findings the team has decided to live with.

    [[tool.perfdoctor.ignore]]
    id = "n-plus-one-query"          # a finding id, or "*"
    endpoint = "GET /admin/*"        # glob on the endpoint name
    path = "legacy/*.py"             # glob on the finding's location path
    model = "Post.tags"              # the relation the finding loads
    reason = "admin is internal"     # shown in --verbose text and in JSON

Every key but ``id`` is optional; a rule matches when all its keys match.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from typing import Any

from perfdoctor.errors import ConfigError
from perfdoctor.model import Finding

KEYS = ("id", "endpoint", "path", "model", "reason")


@dataclass(frozen=True)
class IgnoreRule:
    id: str
    endpoint: str | None = None
    path: str | None = None
    model: str | None = None
    reason: str = ""
    # Where the rule is written, for --verbose: "pyproject.toml ignore #2".
    origin: str = ""

    def matches(self, finding: Finding) -> bool:
        if not fnmatch.fnmatchcase(finding.id, self.id):
            return False
        if self.endpoint is not None and not fnmatch.fnmatchcase(
            finding.endpoint or "", self.endpoint
        ):
            return False
        if self.path is not None and not _path_matches(finding, self.path):
            return False
        return self.model is None or _model_matches(finding, self.model)


def _path_matches(finding: Finding, pattern: str) -> bool:
    if finding.location is None:
        return False
    path = finding.location.path.replace(os.sep, "/")
    # The report shows paths relative to where it runs; an absolute one (a file
    # outside the project) still matches a relative glob by its tail.
    return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, "*/" + pattern)


def _model_matches(finding: Finding, wanted: str) -> bool:
    """``Model.field`` (or ``field``) against the relation the finding names.

    Evidence keys ``model`` and ``relation`` when the detector records them;
    otherwise the relation as the title and fix print it ("load tags one row at a
    time", ``selectinload(Post.tags)``), so ``Post.tags`` there also matches a
    ``tags`` relation of another model with the same field name.
    """
    evidence = finding.evidence
    relation = evidence.get("relation")
    model = evidence.get("model")
    if isinstance(relation, str) and relation:
        names = {relation}
        if isinstance(model, str) and model:
            names.add(f"{model}.{relation}")
        if "." not in wanted and "." in relation:
            names.add(relation.rsplit(".", 1)[1])
        return any(fnmatch.fnmatchcase(name, wanted) for name in names)
    field = wanted.rsplit(".", 1)[-1]
    text = f"{finding.title}\n{finding.fix}"
    return re.search(rf"(?<!\w){re.escape(field)}(?!\w)", text) is not None


def known_ids() -> set[str]:
    """Every finding id perfdoctor reports: the detectors', budgets', the advisor's."""
    from perfdoctor.advisor.findings import DETECTOR_ID
    from perfdoctor.analysis.budgets import FINDING_ID
    from perfdoctor.detectors import all_detectors

    return {d.id for d in all_detectors()} | {FINDING_ID, DETECTOR_ID}


def parse_rules(value: Any, source: str) -> tuple[IgnoreRule, ...]:
    """The ``ignore`` array of tables, checked: a mistake is one clear ConfigError."""
    where = f"{source}: [[tool.perfdoctor.ignore]]"
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be an array of tables ([[tool.perfdoctor.ignore]])")
    rules = []
    ids: set[str] = set()
    for number, entry in enumerate(value, start=1):
        at = f"{where} #{number}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{at} must be a table with an id, got {entry!r}")
        unknown = sorted(set(entry) - set(KEYS))
        if unknown:
            raise ConfigError(f"{at}: unknown key {unknown[0]!r}; known: {', '.join(KEYS)}")
        for key, text in entry.items():
            if not isinstance(text, str) or not text.strip():
                raise ConfigError(f"{at}: {key} must be a non-empty string, got {text!r}")
        if "id" not in entry:
            raise ConfigError(f'{at} needs an id: a finding id such as "n-plus-one-query", or "*"')
        ids = ids or known_ids()
        if not any(fnmatch.fnmatchcase(known, entry["id"]) for known in ids):
            raise ConfigError(
                f"{at}: no finding has the id {entry['id']!r}; known: {', '.join(sorted(ids))}"
            )
        rules.append(
            IgnoreRule(
                id=entry["id"],
                endpoint=entry.get("endpoint"),
                path=entry.get("path"),
                model=entry.get("model"),
                reason=entry.get("reason", ""),
                origin=f"{os.path.basename(source)} ignore #{number}",
            )
        )
    return tuple(rules)
