"""The lint model: a finding, a rule, and the registry rules add themselves to."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perfdoctor.lint.context import Context


@dataclass(frozen=True)
class LintFinding:
    code: str
    # "what is wrong: the fix", as the text output prints it.
    message: str
    path: str
    line: int
    col: int
    function: str | None = None
    # When the message does not end with the fix (PD001).
    fix: str = ""
    # "Article.tags": the model relation the finding is about, when it is one (the
    # runtime report names the relation of an N+1 the same way; report --lint matches on it).
    relation: str | None = None

    def title_and_fix(self) -> tuple[str, str]:
        if self.fix:
            return self.message, self.fix
        title, sep, fix = self.message.partition(": ")
        return (title, fix) if sep else (self.message, "")

    def to_dict(self) -> dict[str, Any]:
        """The runtime report's finding shape (``id``, ``severity``, ``title``,
        ``location``, ``fix``) plus what lint knows besides (rule name, column, message,
        and the model relation when the finding is about one)."""
        rule = RULES[self.code]
        title, fix = self.title_and_fix()
        extra = {"relation": self.relation} if self.relation else {}
        return {
            "id": self.code,
            "rule": rule.name,
            "severity": rule.level,
            "title": title,
            "location": {"path": self.path, "line": self.line, "function": self.function},
            "fix": fix,
            "col": self.col,
            "message": self.message,
            **extra,
        }


Check = Callable[[Any, "Context"], None]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str
    # Node types the check is called with, once per node, in source order.
    nodes: tuple[type[ast.AST], ...]
    check: Check
    # The check cannot fire unless one of these strings is in the file: files without
    # any are not walked for this rule (most files of a large tree are not).
    triggers: tuple[str, ...]
    # "enter": before the node's children are visited; "exit": after (every name
    # bound inside the node is then known).
    when: str = "enter"
    # And one of these too, when given (rules about querysets need a query in the file).
    also: tuple[str, ...] = ()
    # SARIF level: "error" for a file no rule could check.
    level: str = "warning"

    def applies_to(self, source: str) -> bool:
        if not any(t in source for t in self.triggers):
            return False
        return not self.also or any(t in source for t in self.also)


RULES: dict[str, Rule] = {}
# Text a file must hold for any expression in it to be a known query.
QUERY_HINTS = (".objects", ".query(", "select(")


def rule(
    code: str,
    name: str,
    summary: str,
    nodes: tuple[type[ast.AST], ...],
    triggers: tuple[str, ...],
    when: str = "enter",
    also: tuple[str, ...] = (),
    level: str = "warning",
) -> Callable[[Check], Check]:
    def add(check: Check) -> Check:
        if code in RULES:  # pragma: no cover - a programming error
            raise RuntimeError(f"lint rule code {code} registered twice")
        RULES[code] = Rule(code, name, summary, nodes, check, triggers, when, also, level)
        return check

    return add
