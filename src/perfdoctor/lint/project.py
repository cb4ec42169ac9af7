"""What the linted tree says about itself: its models' relations and text fields,
and its cache settings. Read from the trees already parsed (no second parse)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from perfdoctor.lint import drf as rest
from perfdoctor.lint import marshmallow_facts, sa_facts
from perfdoctor.orm.django_meta import reverse_accessor, reverse_query_name

_DJANGO_RELATIONS = {"ForeignKey": "fk", "OneToOneField": "fk", "ManyToManyField": "many"}
_DJANGO_TEXT = {"TextField"}


@dataclass
class Model:
    name: str
    orm: str
    # relation name -> "fk" (one object) or "many" (a manager / collection)
    relations: dict[str, str] = field(default_factory=dict)
    fields: set[str] = field(default_factory=set)
    text_fields: set[str] = field(default_factory=set)
    bases: list[str] = field(default_factory=list)
    # A relation configured to load eagerly (SQLAlchemy lazy="joined"...).
    eager: set[str] = field(default_factory=set)
    # SQLAlchemy: relation -> "dynamic" / "write_only" (a query per use, never eager).
    dynamic: dict[str, str] = field(default_factory=dict)
    # SQLAlchemy: relation -> the class it loads; the class's table and key; the
    # tables its foreign keys name; relationships whose direction needs the target.
    targets: dict[str, str] = field(default_factory=dict)
    table: str = ""
    pk: str | None = None
    fk_refs: set[str] = field(default_factory=set)
    pending: list[sa_facts.Declared] = field(default_factory=list)
    methods: dict[str, sa_facts.MethodFacts] = field(default_factory=dict)
    # Django relations declared here, for the reverse accessors finish() adds to their
    # targets: (field, target class, related_name, one_to_one, symmetrical self-M2M).
    declared: list[tuple[str, str, str | None, bool, bool]] = field(default_factory=list)
    # reverse accessor -> its lookup name when they differ (review_set -> review):
    # prefetch_related() takes the first, filter() / Count() the second.
    query_names: dict[str, str] = field(default_factory=dict)
    related_query_names: dict[str, str] = field(default_factory=dict)

    def query_name(self, relation: str) -> str:
        return self.query_names.get(relation, relation)

    # method -> the relation of self it queries with its argument: ``def has_favorited(
    # self, article): return self.favorites.filter(pk=article.pk).exists()``.
    checks: dict[str, str] = field(default_factory=dict)


@dataclass
class Project:
    models: dict[str, Model] = field(default_factory=dict)
    ambiguous: set[str] = field(default_factory=set)
    # path -> the models defined in it, to tell apart two models of one name.
    by_file: dict[str, dict[str, Model]] = field(default_factory=dict)
    # Where CACHES[...]["TIMEOUT"] is None: the project folder of a settings module
    # (the parent of its package), or the one file that configures it itself.
    cache_forever: list[str] = field(default_factory=list)
    # path -> its project's root ("" when not known: one root for every file).
    root_of: dict[str, str] = field(default_factory=dict)
    # The roots of projects where some module sets CONN_MAX_AGE (settings split in
    # modules, built in ``if`` blocks, or passed to dj_database_url).
    conn_max_age: set[str] = field(default_factory=set)
    # marshmallow: schema classes, and module-level instances -> (class, many=True)
    schemas: dict[str, marshmallow_facts.SchemaFacts] = field(default_factory=dict)
    schema_instances: dict[str, tuple[str, bool]] = field(default_factory=dict)

    def root(self, path: str) -> str:
        return self.root_of.get(path, "")

    # DRF serializers and list views (perfdoctor.lint.drf).
    drf: rest.Facts = field(default_factory=rest.Facts)

    def serializer(self, name: str) -> rest.Serializer | None:
        found = self.drf.serializers.get(name, [])
        return found[0] if len(found) == 1 else None

    def cache_timeout_none(self, path: str) -> bool:
        return any(
            not root or path == root or path.startswith(root.rstrip("/") + "/")
            for root in self.cache_forever
        )

    def model(self, name: str | None, source: str | None = None) -> Model | None:
        """The model called ``name``; when two share it, the one in ``source`` (the
        module the linted file imports it from), else none."""
        if name is None:
            return None
        if name in self.ambiguous:
            if not source:
                return None
            if source in self.by_file:
                return self.by_file[source].get(name)
            # "blog/models.py" from ``from blog.models import Article``: the one file
            # of the tree that ends so.
            found = [
                m[name] for p, m in self.by_file.items() if name in m and p.endswith(f"/{source}")
            ]
            return found[0] if len(found) == 1 else None
        return self.models.get(name)

    def add_model(self, model: Model, path: str = "") -> None:
        self.by_file.setdefault(path, {})[model.name] = model
        if model.name in self.models:
            # Two classes with one name (two apps, test models): which one a
            # queryset holds is unknown, so neither is used.
            self.ambiguous.add(model.name)
            return
        self.models[model.name] = model

    def resolve_bases(self) -> None:
        for model in list(self.models.values()):
            seen: set[str] = set()
            stack = list(model.bases)
            while stack:
                base = self.models.get(stack.pop())
                if base is None or base.name in seen:
                    continue
                seen.add(base.name)
                model.relations = {**base.relations, **model.relations}
                model.targets = {**base.targets, **model.targets}
                model.checks = {**base.checks, **model.checks}
                model.query_names = {**base.query_names, **model.query_names}
                model.fields |= base.fields
                model.text_fields |= base.text_fields
                model.eager |= base.eager
                model.dynamic = {**base.dynamic, **model.dynamic}
                model.targets = {**base.targets, **model.targets}
                model.methods = {**base.methods, **model.methods}
                stack.extend(base.bases)


def _callee(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, ast.Attribute):
            return func.attr
    return None


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _field_value(stmt: ast.stmt) -> tuple[str, ast.expr] | None:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        if isinstance(target, ast.Name):
            return target.id, stmt.value
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        if stmt.value is not None:
            return stmt.target.id, stmt.value
        return stmt.target.id, stmt.annotation
    return None


def _model_from_class(node: ast.ClassDef) -> Model | None:
    model = Model(node.name, "django")
    for base in node.bases:
        if isinstance(base, ast.Name):
            model.bases.append(base.id)
        elif isinstance(base, ast.Attribute):
            model.bases.append(base.attr)
    is_model = False
    for stmt in node.body:
        if isinstance(stmt, ast.FunctionDef):
            checked = _checked_relation(stmt)
            if checked is not None:
                model.checks[stmt.name] = checked
            continue
        found = _field_value(stmt)
        if found is None:
            continue
        name, value = found
        kind = _callee(value)
        if kind is None:
            continue
        call = value
        assert isinstance(call, ast.Call)
        if kind.endswith("Field") or kind in _DJANGO_RELATIONS:
            is_model = True
            model.fields.add(name)
            if kind in _DJANGO_RELATIONS:
                model.relations[name] = _DJANGO_RELATIONS[kind]
                _declare(model, name, kind, call, node.name)
            elif kind in _DJANGO_TEXT:
                model.text_fields.add(name)
        elif kind == "relationship":
            is_model = True
            model.orm = "sqlalchemy"
            sa_facts.relationship(model, stmt, name, call)
        elif kind in ("Column", "mapped_column") or kind in sa_facts.COLUMN_HELPERS:
            is_model = True
            model.orm = "sqlalchemy"
            model.fields.add(name)
            sa_facts.column(model, name, call)
    if model.orm == "sqlalchemy":
        model.table = sa_facts.table_name(node)
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                sa_facts.method(model, stmt)
    if is_model or model.bases:
        return model
    return None


_CHECKS = {"filter", "exclude", "get", "count", "exists", "contains", "values_list", "first"}


def _checked_relation(func: ast.FunctionDef) -> str | None:
    """``self.<rel>.<query>(... arg ...)`` in a method of two parameters: the relation."""
    args = func.args.args
    if len(args) != 2 or args[0].arg != "self" or len(func.body) > 3:
        return None
    param = args[1].arg
    for node in ast.walk(func):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        manager = node.func.value
        if not (
            isinstance(manager, ast.Attribute)
            and isinstance(manager.value, ast.Name)
            and manager.value.id == "self"
            and node.func.attr in _CHECKS
        ):
            continue
        if any(isinstance(n, ast.Name) and n.id == param for n in ast.walk(node)):
            return manager.attr
    return None


def _declare(model: Model, name: str, kind: str, call: ast.Call, own: str) -> None:
    to = call.args[0] if call.args else _kw(call, "to")
    target = None
    if isinstance(to, ast.Name):
        target = to.id
    elif isinstance(to, ast.Attribute):
        target = to.attr
    elif isinstance(to, ast.Constant) and isinstance(to.value, str):
        target = own if to.value == "self" else to.value.rsplit(".", 1)[-1]
    if target is None:
        return
    model.targets[name] = target
    related = _kw(call, "related_name")
    value = related.value if isinstance(related, ast.Constant) else None
    if related is not None and not isinstance(value, str):
        return  # computed: unknown, so no reverse name is claimed
    related_name = value if isinstance(value, str) else None
    query = _kw(call, "related_query_name")
    if isinstance(query, ast.Constant) and isinstance(query.value, str):
        model.related_query_names[name] = query.value
    symmetrical = _kw(call, "symmetrical")
    self_m2m = kind == "ManyToManyField" and target == own
    sym = self_m2m and not (isinstance(symmetrical, ast.Constant) and symmetrical.value is False)
    model.declared.append((name, target, related_name, kind == "OneToOneField", sym))


def _add_reverse(project: Project) -> None:
    """``related_name`` / ``<model>_set`` on the other side of each FK, O2O and M2M,
    named as the runtime's catalog names them (Django's accessor rules)."""
    for model in list(project.models.values()):
        for name, target, related_name, one_to_one, symmetrical in model.declared:
            other = project.models.get(target)
            if other is None or target in project.ambiguous or symmetrical:
                continue
            if related_name and "%(" in related_name:
                continue
            accessor = reverse_accessor(model.name, related_name, one_to_one)
            if accessor is None or accessor in other.relations:
                continue
            other.relations[accessor] = "fk" if one_to_one else "many"
            other.targets[accessor] = model.name
            query = reverse_query_name(
                model.name, related_name, model.related_query_names.get(name)
            )
            if query != accessor:
                other.query_names[accessor] = query


def is_none(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _caches_timeout_none(node: ast.Assign) -> bool:
    if not (isinstance(node.value, ast.Dict)):
        return False
    for alias in node.value.values:
        if not isinstance(alias, ast.Dict):
            continue
        for key, value in zip(alias.keys, alias.values):
            if isinstance(key, ast.Constant) and key.value == "TIMEOUT" and is_none(value):
                return True
    return False


def add_tree(project: Project, path: str, source: str, tree: ast.Module) -> None:
    """Gather the models (Django and SQLAlchemy classes) and cache settings of one tree.

    Only the top level of each module is read: models and settings live there.
    """
    if ("CONN_MAX_AGE" in source or "conn_max_age" in source) and sets_conn_max_age(tree):
        project.conn_max_age.add(project.root(path))
    rest.add_tree(project.drf, path, source, tree)
    has_models = "Field(" in source or "relationship(" in source or "Column(" in source
    has_caches = "CACHES" in source
    if "Schema" in source and "fields." in source:
        marshmallow_facts.add(project, tree)
    if not (has_models or has_caches):
        return
    for stmt in tree.body:
        if has_models and isinstance(stmt, ast.ClassDef):
            model = _model_from_class(stmt)
            if model is not None:
                project.add_model(model, path)
        elif has_caches and isinstance(stmt, ast.Assign):
            names = [t.id for t in stmt.targets if isinstance(t, ast.Name)]
            if "CACHES" in names and _caches_timeout_none(stmt):
                project.cache_forever.append(_settings_scope(path))


def sets_conn_max_age(tree: ast.Module) -> bool:
    """``"CONN_MAX_AGE"`` as a key or subscript, ``CONN_MAX_AGE=`` / ``conn_max_age=``
    passed to a call (``.update()``, ``dj_database_url.config()``): code, not a comment.

    Not inside one database of a ``DATABASES = {...}`` literal: that sets it for that
    database only, and PD501 reads it there (a project whose PostgreSQL branch sets
    it and whose MySQL branch does not is still told about the MySQL one)."""
    found: list[ast.AST] = []
    aliases: list[ast.expr] = []
    for n in ast.walk(tree):  # one walk: these modules can be large (Django's own)
        if _is_conn_max_age(n):
            found.append(n)
        elif isinstance(n, (ast.Assign, ast.AnnAssign)):
            aliases.extend(_databases_values(n))
    if not found:
        return False
    local = {id(n) for alias in aliases for n in conn_max_age_nodes(alias)}
    return any(id(n) not in local for n in found)


def _is_conn_max_age(n: ast.AST) -> bool:
    if isinstance(n, ast.Constant):
        return n.value == "CONN_MAX_AGE"
    return isinstance(n, ast.keyword) and n.arg in ("CONN_MAX_AGE", "conn_max_age")


def conn_max_age_nodes(node: ast.AST) -> list[ast.AST]:
    return [n for n in ast.walk(node) if _is_conn_max_age(n)]


def _databases_values(node: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    """Each database's value when ``node`` is ``DATABASES = {...}``."""
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    if isinstance(node.value, ast.Dict) and any(
        isinstance(t, ast.Name) and t.id == "DATABASES" for t in targets
    ):
        return list(node.value.values)
    return []


def _settings_scope(path: str) -> str:
    posix = PurePosixPath(path)
    if posix.name == "settings.py" or posix.parent.name == "settings":
        package = posix.parent.parent if posix.name == "settings.py" else posix.parent.parent.parent
        return str(package) if str(package) != "." else ""
    return path


def finish(project: Project) -> Project:
    """Once every tree is in: inherited fields, and each file's view of its models."""
    _add_reverse(project)  # first: a subclass has its parent's reverse accessors too
    sa_facts.resolve(project)
    project.resolve_bases()
    for models in project.by_file.values():
        for name in models:
            if name not in project.ambiguous:
                models[name] = project.models[name]
    return project


def collect(trees: list[tuple[str, str, ast.Module]]) -> Project:
    project = Project()
    for path, source, tree in trees:
        add_tree(project, path, source, tree)
    return finish(project)
