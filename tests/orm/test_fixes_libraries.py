"""The loop runs inside a library (a DRF serializer, a marshmallow schema): the fix
still names the relation the models declare, and applied to the queryset or
select that feeds the library, it removes the repeated queries.

As on the real apps: the serializer's field (``source="owner.user.username"``, a
nested serializer, a SerializerMethodField) or the schema's nested field reads
the relation; no line of the user's code loops.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests.orm import django_env
from tests.orm import sa_models as m
from tests.orm.fix_support import (
    apply_django,
    apply_sqlalchemy,
    captured,
    django_captured,
    n_plus_one,
    queries,
    run,
)

ROWS = 5


@pytest.fixture(scope="module")
def django_traces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    django_env.setup()
    from django.contrib.auth.models import User

    from tests.orm.django_models import models as dm

    path = tmp_path_factory.mktemp("drf") / "traces.db"
    with django_captured(path):
        for i in range(ROWS):
            user = User.objects.create(username=f"drf-user{i}")
            profile = dm.Profile.objects.create(user=user, bio=f"bio {i}")
            post = dm.Post.objects.create(title=f"drf post {i}", owner=profile)
            for j in range(2):
                dm.Comment.objects.create(post=post, author=user, body=f"c{j}")
        yield path


def _drf_serializers() -> tuple[Any, Any]:
    from rest_framework import serializers

    from tests.orm.django_models import models as dm

    class ProfileSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
        username = serializers.CharField(source="user.username")

        class Meta:
            model = dm.Profile
            fields = ["bio", "username"]

    class PostSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
        owner = ProfileSerializer()
        comment_count = serializers.SerializerMethodField()

        class Meta:
            model = dm.Post
            fields = ["title", "owner", "comment_count"]

        def get_comment_count(self, post: Any) -> int:
            return int(post.comments.count())

    return PostSerializer, ProfileSerializer


def test_drf_nested_serializer_and_method_field(django_traces: Path) -> None:
    from tests.orm.django_models import models as dm

    post_serializer, _ = _drf_serializers()
    queryset = dm.Post.objects.filter(title__startswith="drf post").order_by("id")
    before = run("drf", lambda: post_serializer(queryset, many=True).data)
    findings = n_plus_one(django_traces, "drf")
    fixes = sorted(f.fix for f in findings)
    assert len(findings) == 3, fixes  # owner, owner.user, the count
    assert any('.select_related("owner")' in f for f in fixes), fixes
    assert any('.select_related("owner__user")' in f for f in fixes), fixes
    assert any('.annotate(comments_count=Count("comment"))' in f for f in fixes), fixes
    # Pasted on the queryset the serializer is given, the eager loads leave the list
    # query and the count per row; the annotation then replaces the method's query.
    fixed = queryset
    for finding in findings:
        if finding.evidence["orm_fix"]["kind"] == "eager":
            fixed = apply_django(fixed, finding.evidence["orm_fix"])
    assert run("drf fixed", lambda: post_serializer(fixed, many=True).data) == before
    assert queries(django_traces, "drf fixed") == 1 + ROWS


def test_drf_membership_check_points_at_the_method_field(django_traces: Path) -> None:
    """The edit goes in the serializer's get_<field>, which reads a set built once per
    request; the model-level check stays for code that changes the relation."""
    from tests.orm import drf_membership
    from tests.orm.django_models import models as dm

    profiles = dm.Profile.objects.filter(bio__startswith="bio").order_by("id")
    viewer = profiles[0]
    viewer.followers.set(profiles[1:3])
    context = {"viewer": viewer}
    serializer = drf_membership.FollowSerializer
    before = run("drf following", lambda: serializer(profiles.all(), many=True, context=context).data)
    [finding] = n_plus_one(django_traces, "drf following")
    assert finding.evidence["orm_fix"]["kind"] == "membership", finding.fix
    assert finding.location is not None
    assert finding.location.function == "FollowSerializer.get_following"
    assert finding.location.path.endswith("drf_membership.py")
    # the method's line that calls the check, not its def
    source = Path(finding.location.path).read_text().splitlines()
    assert "is_following(" in source[finding.location.line - 1]
    fix = finding.evidence["orm_fix"]

    def fixed() -> Any:
        ids = set(getattr(viewer, fix["relation"]).values_list(fix["values_list"], flat=True))
        return serializer(profiles.all(), many=True, context={**context, "followed_ids": ids}).data

    assert run("drf following fixed", fixed) == before
    assert queries(django_traces, "drf following fixed") == 2  # the ids, the profiles


def _schemas() -> Any:
    marshmallow = pytest.importorskip("marshmallow")
    fields = marshmallow.fields

    class UserSchema(marshmallow.Schema):  # type: ignore[misc]
        name = fields.String()

    class PostSchema(marshmallow.Schema):  # type: ignore[misc]
        title = fields.String()
        owner = fields.Nested(UserSchema)
        tags = fields.List(fields.Pluck("TagSchema", "name"))

    class TagSchema(marshmallow.Schema):  # type: ignore[misc]
        name = fields.String()

    return PostSchema


# Capturing points the process's recorder at this fixture's store: the tests of
# django_traces above run before it is set up.
@pytest.fixture(scope="module")
def sa_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Engine]]:
    path = tmp_path_factory.mktemp("marshmallow") / "traces.db"
    with captured(path):
        engine = m.make_engine()
        with Session(engine) as s:
            tags = [m.Tag(name=f"mm-tag{i}") for i in range(ROWS)]
            for i in range(ROWS):
                user = m.User(name=f"mm-user{i}")
                post = m.Post(title=f"mm post {i}", owner=user)
                post.tags = [tags[i], tags[(i + 1) % ROWS]]
                s.add_all([user, post])
            s.commit()
        yield path, engine


def test_marshmallow_dump_many(sa_env: tuple[Path, Engine]) -> None:
    traces, engine = sa_env
    schema = _schemas()(many=True)
    statement = select(m.Post).order_by(m.Post.id)

    def dump(stmt: Any) -> Any:
        with Session(engine) as s:
            return schema.dump(s.scalars(stmt).all())

    before = run("marshmallow", lambda: dump(statement))
    findings = n_plus_one(traces, "marshmallow")
    fixes = sorted(f.fix for f in findings)
    assert any("joinedload(Post.owner)" in f for f in fixes), fixes
    assert any("selectinload(Post.tags)" in f for f in fixes), fixes
    fixed = statement
    for finding in findings:
        fixed = apply_sqlalchemy(fixed, finding.evidence["orm_fix"])
    assert run("marshmallow fixed", lambda: dump(fixed)) == before
    assert queries(traces, "marshmallow fixed") == 2  # posts with owners, then the tags

