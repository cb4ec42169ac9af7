"""Find the files, parse each once, walk each tree once dispatching to the rules."""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from perfdoctor.gc_paused import gc_paused
from perfdoctor.lint import rules as _rules  # noqa: F401  (registers every rule)
from perfdoctor.lint.base import RULES, LintFinding, Rule
from perfdoctor.lint.config import LintConfig
from perfdoctor.lint.context import Context, Scope
from perfdoctor.lint.project import Project, add_tree, collect, finish
from perfdoctor.lint.roots import SKIP_DIRS, Roots, context_files
from perfdoctor.lint.rules import pd001_unparsable as unparsable

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.I)


@dataclass
class LintResult:
    findings: list[LintFinding] = field(default_factory=list)
    parsed: list[str] = field(default_factory=list)
    # (path, reason) of files that could not be read or parsed (each is also a
    # PD001 finding, unless PD001 is ignored for it).
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def files(self) -> int:
        return len(self.parsed) + len(self.skipped)


def discover(paths: Sequence[str | Path]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.append(path)
            continue
        for folder, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            found.extend(Path(folder, f) for f in sorted(files) if f.endswith(".py"))
    return found


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def lint_paths(
    paths: Sequence[str | Path], config: LintConfig | None = None, context: bool = True
) -> LintResult:
    """Lint ``paths``. With ``context``, the models and settings of each path's project
    (found from the path upward) are read too, and only ``paths`` are reported on."""
    config = config or LintConfig()
    result = LintResult()
    with gc_paused():
        _lint_all(paths, config, result, context)
    result.findings.sort(key=lambda f: (f.path, f.line, f.col, f.code))
    return result


def _lint_all(
    paths: Sequence[str | Path], config: LintConfig, result: LintResult, context: bool
) -> None:
    project = Project()
    roots = Roots()
    found: set[Path] = set()
    # Only the trees some rule will walk are kept (about one file in ten of a large
    # tree): the others are dropped as soon as their models are read.
    kept: list[tuple[str, str, ast.Module, list[Rule]]] = []
    for path in discover(paths):
        shown = _display(path)
        failed: unparsable.Unparsable | None = None
        try:
            source, tree = unparsable.parse(path.read_bytes(), shown)
        except OSError as exc:
            failed = unparsable.Unparsable(f"cannot read it: {exc.strerror or exc}")
        except unparsable.Unparsable as exc:
            failed = exc
        if failed is not None:
            # Checked by no rule: a finding itself (PD001) unless ignored for this file.
            result.skipped.append((shown, failed.why))
            if not config.ignores(unparsable.CODE, shown):
                result.findings.append(failed.finding(shown))
            continue
        result.parsed.append(shown)
        root = roots.of_folder(path.parent)
        if root is not None:
            project.root_of[shown] = str(root)
            found.add(root)
        add_tree(project, shown, source, tree)
        active = [r for r in config.rules_for(shown) if r.applies_to(source)]
        if active:
            kept.append((shown, source, tree, active))
    if context and found:
        _read_context(project, found, [Path(p) for p in paths])
    finish(project)
    for shown, source, tree, active in kept:
        findings = lint_tree(tree, shown, source, project, active)
        result.findings.extend(_without_noqa(findings, source))


def _read_context(project: Project, roots: set[Path], asked: list[Path]) -> None:
    """The models and settings of the projects linted in part, not reported on."""
    for root in sorted(roots):
        for path in context_files([root], asked):
            try:
                source, tree = unparsable.parse(path.read_bytes(), str(path))
            except (OSError, unparsable.Unparsable):
                continue  # what cannot be read is reported when it is linted itself
            shown = _display(path)
            project.root_of[shown] = str(root)
            add_tree(project, shown, source, tree)


def lint_source(
    source: str, path: str = "<string>", project: Project | None = None
) -> list[LintFinding]:
    """Lint one module's source with every rule (tests and the report's link use it)."""
    tree = ast.parse(source, filename=path)
    project = project or collect([(path, source, tree)])
    return _without_noqa(lint_tree(tree, path, source, project, list(RULES.values())), source)


def _without_noqa(findings: list[LintFinding], source: str) -> list[LintFinding]:
    if not findings:
        return findings
    lines = source.splitlines()
    kept = []
    for finding in findings:
        text = lines[finding.line - 1] if finding.line <= len(lines) else ""
        match = _NOQA.search(text) if "noqa" in text.lower() else None
        if match is None:
            kept.append(finding)
            continue
        codes = match.group("codes")
        if codes and finding.code not in re.split(r"[\s,]+", codes.upper()):
            kept.append(finding)
    return kept


def lint_tree(
    tree: ast.Module, path: str, source: str, project: Project, active: Iterable[Rule]
) -> list[LintFinding]:
    ctx = Context(path, source, project)
    enter: dict[type[ast.AST], list[Rule]] = {}
    leave: dict[type[ast.AST], list[Rule]] = {}
    for r in active:
        table = enter if r.when == "enter" else leave
        for node_type in r.nodes:
            table.setdefault(node_type, []).append(r)
    _Walker(ctx, enter, leave).visit(tree)
    return ctx.findings


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_LEAVES: frozenset[type[ast.AST]] = frozenset(
    {ast.Name, ast.Constant, ast.Load, ast.Store, ast.Del, ast.Pass, ast.Break, ast.Continue}
    | {
        t
        for t in vars(ast).values()
        if isinstance(t, type)
        and issubclass(t, (ast.operator, ast.unaryop, ast.cmpop, ast.boolop))
    }
)


class _Walker:
    def __init__(
        self,
        ctx: Context,
        enter: dict[type[ast.AST], list[Rule]],
        leave: dict[type[ast.AST], list[Rule]],
    ) -> None:
        self.ctx = ctx
        self.enter = enter
        self.leave = leave

    def visit(self, node: ast.AST, cls: ast.ClassDef | None = None) -> None:
        ctx = self.ctx
        kind = type(node)
        if kind is ast.Import or kind is ast.ImportFrom:
            self._imports(node)  # type: ignore[arg-type]
            return
        for r in self.enter.get(kind, ()):
            r.check(node, ctx)
        if kind is ast.FunctionDef or kind is ast.AsyncFunctionDef or kind is ast.Lambda:
            self._function(node, cls)  # type: ignore[arg-type]
            return
        if kind is ast.ClassDef:
            ctx.classes.append(node)  # type: ignore[arg-type]
            for child in ast.iter_child_nodes(node):
                self.visit(child, node if isinstance(child, _FUNCTIONS) else None)  # type: ignore[arg-type]
            ctx.classes.pop()
        else:
            if kind is ast.For or kind is ast.AsyncFor or kind is ast.comprehension:
                ctx.bind(node.target, None)  # type: ignore[attr-defined]
            self._children(node)
            if kind is ast.Assign:
                value = ctx.value_of(node.value)  # type: ignore[attr-defined]
                for target in node.targets:  # type: ignore[attr-defined]
                    ctx.bind(target, value)
            elif kind is ast.AnnAssign and node.value is not None:  # type: ignore[attr-defined]
                ctx.bind(node.target, ctx.value_of(node.value))  # type: ignore[attr-defined]
            elif kind is ast.withitem and node.optional_vars is not None:  # type: ignore[attr-defined]
                ctx.bind(node.optional_vars, ctx.value_of(node.context_expr))  # type: ignore[attr-defined]
        for r in self.leave.get(kind, ()):
            r.check(node, ctx)

    def _children(self, node: ast.AST) -> None:
        # ast.iter_child_nodes, inlined, and without calls for leaves no rule looks at:
        # this loop runs for every node of every walked file.
        visit = self.visit
        for name in node._fields:
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast.AST) and type(item) not in _LEAVES:
                        visit(item)
            elif isinstance(value, ast.AST) and type(value) not in _LEAVES:
                visit(value)

    def _function(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, cls: ast.ClassDef | None
    ) -> None:
        ctx = self.ctx
        scope = Scope(node, isinstance(node, ast.AsyncFunctionDef), cls=cls)
        args = node.args
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None:
                scope.names[arg.arg] = None
        if isinstance(node, _FUNCTIONS):
            for deco in node.decorator_list:
                self.visit(deco)
        ctx.scopes.append(scope)
        body = node.body if isinstance(node, _FUNCTIONS) else [node.body]
        for child in body:
            self.visit(child)
        for r in self.leave.get(type(node), ()):
            r.check(node, ctx)
        ctx.scopes.pop()

    def _imports(self, node: ast.Import | ast.ImportFrom) -> None:
        imports = self.ctx.imports
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    imports[alias.asname] = alias.name
                else:
                    top = alias.name.split(".", 1)[0]
                    imports[top] = top
        elif node.module and not node.level:
            for alias in node.names:
                imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                if alias.asname is None and alias.name[:1].isupper():
                    self.ctx.relative[alias.name] = node.module.replace(".", "/") + ".py"
        elif node.level:
            names = [a.asname or a.name for a in node.names if a.asname is None]
            self.ctx.import_relative(node.level, node.module, names)
