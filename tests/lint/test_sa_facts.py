"""Lint reads SQLAlchemy models from the source; the runtime fixes read the live
mappers. Both must name every relation the same way, with the same direction and
loading strategy, or a lint finding and the report would disagree on the fix."""

from __future__ import annotations

import ast
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy.orm import configure_mappers

from perfdoctor.lint.project import collect
from perfdoctor.orm import sqlalchemy_meta
from perfdoctor.orm.catalog import Catalog
from tests.orm import sa_models, sa_models_classic

_MODULES = (sa_models, sa_models_classic)


def _lint_facts() -> dict[tuple[str, str, str], tuple[bool, str, str]]:
    trees = []
    for module in _MODULES:
        path = Path(str(module.__file__))
        source = path.read_text()
        trees.append((str(path), source, ast.parse(source)))
    project = collect(trees)
    facts = {}
    for module in _MODULES:
        for name, model in project.by_file[str(module.__file__)].items():
            for rel, kind in model.relations.items():
                lazy = model.dynamic.get(rel) or ("eager" if rel in model.eager else "select")
                facts[(module.__name__, name, rel)] = (kind == "many", model.targets[rel], lazy)
    return facts


def _runtime_facts() -> dict[tuple[str, str, str], tuple[bool, str, str]]:
    configure_mappers()
    raw = sqlalchemy_meta.catalog()
    assert raw is not None
    catalog = Catalog.from_dict(raw)
    facts = {}
    for model in catalog.models.values():
        if model.module not in {m.__name__ for m in _MODULES}:
            continue
        for rel in model.relations:
            target = rel.target.rsplit(".", 1)[-1]
            lazy = rel.lazy if rel.lazy in ("select", "dynamic", "write_only") else "eager"
            facts[(model.module, model.name, rel.name)] = (rel.to_many, target, lazy)
    return facts


@pytest.mark.parametrize("module", _MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_lint_names_relations_as_the_mappers_do(module: ModuleType) -> None:
    name = module.__name__
    lint = {k: v for k, v in _lint_facts().items() if k[0] == name}
    runtime = {k: v for k, v in _runtime_facts().items() if k[0] == name}
    assert lint == runtime
