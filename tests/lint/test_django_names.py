"""Lint reads Django relations from the source as the runtime catalog reads them from
``Model._meta``: the same names (``related_name``, ``<model>_set``, one-to-one
reverses, both sides of a many-to-many), so a lint finding and ``perfdoctor report``
name one relation alike."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from perfdoctor.lint.project import collect
from perfdoctor.orm import django_meta
from perfdoctor.orm.catalog import Catalog
from tests.orm import django_env

MODELS = Path(__file__).parents[1] / "orm" / "django_models" / "models.py"
# Relations a plain field declaration gives (not inheritance links, not generic ones).
_DECLARED = {"fk", "o2o", "m2m", "reverse_fk", "reverse_o2o", "reverse_m2m"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    django_env.setup()
    raw = django_meta.catalog()
    assert raw is not None
    return Catalog.from_dict(raw)


def test_lint_and_catalog_name_the_same_relations(catalog: Catalog) -> None:
    source = MODELS.read_text()
    project = collect([(str(MODELS), source, ast.parse(source))])
    # Only the models of that file (other tests add models to the app in this process).
    module = "tests.orm.django_models.models"
    own = {key: m for key, m in catalog.models.items() if m.module == module}
    compared = 0
    for key, runtime in own.items():
        lint = project.models.get(runtime.name)
        if lint is None:
            continue
        names = {r.name: r for r in runtime.relations}
        for name, kind in lint.relations.items():
            assert name in names, f"lint names {runtime.name}.{name}, the app has no such relation"
            assert names[name].to_many == (kind == "many"), f"{runtime.name}.{name}"
        for rel in runtime.relations:
            # Multi-table inheritance links (place_ptr and its reverse) are not declared.
            link = "_ptr" in rel.name or (rel.remote_column or "").endswith("_ptr_id")
            if rel.kind in _DECLARED and rel.target in own and not link:
                assert rel.name in lint.relations, f"lint misses {key}.{rel.name} ({rel.kind})"
                # Count("...") / filter() take the query name, prefetch_related() the name.
                assert lint.query_name(rel.name) == rel.query_name, f"{key}.{rel.name}"
                compared += 1
    assert compared >= 10


def test_reverse_accessor_rules() -> None:
    accessor = django_meta.reverse_accessor
    assert accessor("Comment", None, one_to_one=False) == "comment_set"
    assert accessor("Profile", None, one_to_one=True) == "profile"
    assert accessor("Comment", "comments", one_to_one=False) == "comments"
    assert accessor("Article", "+", one_to_one=False) is None
    assert accessor("Article", "editor+", one_to_one=False) is None
