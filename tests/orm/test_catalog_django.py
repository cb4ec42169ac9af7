"""The Django catalog names the relations a user writes, read from ``Model._meta``
of the ``blog`` test app (tests/orm/django_models) and Django's contrib apps."""

from __future__ import annotations

import json

import pytest

from perfdoctor.orm import django_meta
from perfdoctor.orm.catalog import CATALOG_FORMAT, Catalog, Model, Relation
from tests.orm import django_env


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    django_env.setup()
    raw = django_meta.catalog()
    assert raw is not None
    json.dumps(raw)  # plain JSON, as the store keeps it
    assert raw["format"] == CATALOG_FORMAT
    return Catalog.from_dict(raw)


def model(catalog: Catalog, key: str) -> Model:
    return catalog.models[key]


def rel(catalog: Catalog, key: str, name: str) -> Relation:
    found = catalog.models[key].relation(name)
    assert found is not None, f"{key}.{name} missing: {[r.name for r in catalog.models[key].relations]}"
    return found


def test_models_tables_and_columns(catalog: Catalog) -> None:
    import django

    assert catalog.framework == "django"
    assert catalog.version == django.get_version()
    post = model(catalog, "blog.Post")
    assert (post.name, post.module, post.table, post.pk) == ("Post", "tests.orm.django_models.models", "blog_post", ("id",))
    assert post.fields["owner_id"] == "owner"
    assert post.fields["created"] == "created"  # from the abstract base
    assert "blog.Stamped" not in catalog.models
    assert [m.key for m in catalog.by_table("blog_comment")] == ["blog.Comment"]
    assert "auth.User" in catalog.models and "contenttypes.ContentType" in catalog.models
    # auto-created many-to-many through models are not models here...
    assert not catalog.by_table("blog_post_tags")


def test_forward_fk_and_nested_chain(catalog: Catalog) -> None:
    owner = rel(catalog, "blog.Post", "owner")
    assert (owner.kind, owner.target, owner.to_many) == ("fk", "blog.Profile", False)
    assert (owner.column, owner.remote_column, owner.query_name) == ("owner_id", "id", "owner")
    # Comment.post -> Post.owner -> Profile.user -> User: select_related("post__owner__user")
    key, seen = "blog.Comment", []
    for name in ["post", "owner", "user"]:
        step = rel(catalog, key, name)
        assert step.to_many is False
        key = step.target
        seen.append(key)
    assert seen == ["blog.Post", "blog.Profile", "auth.User"]


def test_reverse_fk_with_and_without_related_name(catalog: Catalog) -> None:
    posts = rel(catalog, "blog.Profile", "posts")
    assert (posts.kind, posts.target, posts.to_many) == ("reverse_fk", "blog.Post", True)
    assert (posts.column, posts.remote_column, posts.query_name) == ("id", "owner_id", "posts")
    # no related_name: accessor <model>_set, query name the model name
    post_set = rel(catalog, "blog.Category", "post_set")
    assert (post_set.kind, post_set.remote_column, post_set.query_name) == ("reverse_fk", "category_id", "post")
    assert rel(catalog, "auth.User", "comment_set").remote_column == "author_id"
    # related_name and related_query_name differ: the accessor and the filter name
    comments = rel(catalog, "blog.Post", "comments")
    assert (comments.kind, comments.query_name, comments.remote_column) == ("reverse_fk", "comment", "post_id")


def test_one_to_one_both_sides(catalog: Catalog) -> None:
    user = rel(catalog, "blog.Profile", "user")
    assert (user.kind, user.target, user.column, user.to_many) == ("o2o", "auth.User", "user_id", False)
    profile = rel(catalog, "auth.User", "profile")
    assert (profile.kind, profile.target, profile.to_many) == ("reverse_o2o", "blog.Profile", False)
    assert (profile.column, profile.remote_column, profile.query_name) == ("id", "user_id", "profile")


def test_many_to_many_auto_through(catalog: Catalog) -> None:
    tags = rel(catalog, "blog.Post", "tags")
    assert (tags.kind, tags.target, tags.to_many) == ("m2m", "blog.Tag", True)
    assert (tags.through, tags.through_source, tags.through_target) == ("blog_post_tags", "post_id", "tag_id")
    back = rel(catalog, "blog.Tag", "posts")
    assert (back.kind, back.target, back.query_name) == ("reverse_m2m", "blog.Post", "posts")
    assert (back.through, back.through_source, back.through_target) == ("blog_post_tags", "tag_id", "post_id")


def test_many_to_many_self_and_custom_through(catalog: Catalog) -> None:
    followers = rel(catalog, "blog.Profile", "followers")
    assert (followers.kind, followers.target, followers.through) == ("m2m", "blog.Profile", "blog_profile_followers")
    assert (followers.through_source, followers.through_target) == ("from_profile_id", "to_profile_id")
    following = rel(catalog, "blog.Profile", "following")
    assert (following.kind, following.through_source, following.through_target) == ("reverse_m2m", "to_profile_id", "from_profile_id")
    members = rel(catalog, "blog.Team", "members")
    assert (members.kind, members.target, members.through) == ("m2m", "blog.Profile", "blog_membership")
    assert (members.through_source, members.through_target) == ("team_id", "profile_id")
    teams = rel(catalog, "blog.Profile", "teams")
    assert (teams.kind, teams.target, teams.through) == ("reverse_m2m", "blog.Team", "blog_membership")
    # the custom through model is a model of its own, with its FKs
    assert rel(catalog, "blog.Membership", "profile").kind == "fk"
    assert rel(catalog, "blog.Profile", "membership_set").kind == "reverse_fk"


def test_generic_foreign_key_and_generic_relation(catalog: Catalog) -> None:
    gfk = rel(catalog, "blog.Attachment", "content_object")
    assert (gfk.kind, gfk.target, gfk.column, gfk.remote_column, gfk.to_many) == ("gfk", "", "object_id", None, False)
    assert rel(catalog, "blog.Attachment", "content_type").target == "contenttypes.ContentType"
    attachments = rel(catalog, "blog.Post", "attachments")
    assert (attachments.kind, attachments.target, attachments.to_many) == ("generic_relation", "blog.Attachment", True)
    assert (attachments.column, attachments.remote_column) == ("id", "object_id")
    # the GenericRel on Attachment is a filter name, not an attribute: not listed
    assert [r.name for r in model(catalog, "blog.Attachment").relations] == ["content_type", "content_object"]


def test_multi_table_inheritance(catalog: Catalog) -> None:
    restaurant = model(catalog, "blog.Restaurant")
    assert (restaurant.table, restaurant.pk, restaurant.parents) == ("blog_restaurant", ("place_ptr_id",), ("blog.Place",))
    link = rel(catalog, "blog.Restaurant", "place_ptr")
    assert (link.kind, link.target, link.column, link.remote_column) == ("parent_link", "blog.Place", "place_ptr_id", "id")
    assert rel(catalog, "blog.Restaurant", "chef").kind == "fk"
    # the parent's fields live in the parent's table
    assert "name" not in restaurant.fields and restaurant.fields["chef_id"] == "chef"
    back = rel(catalog, "blog.Place", "restaurant")
    assert (back.kind, back.remote_column) == ("reverse_o2o", "place_ptr_id")


def test_proxy_model_maps_to_the_concrete_table(catalog: Catalog) -> None:
    proxy = model(catalog, "blog.PublishedPost")
    assert (proxy.table, proxy.parents, proxy.fields["owner_id"]) == ("blog_post", (), "owner")
    assert rel(catalog, "blog.PublishedPost", "owner").target == "blog.Profile"
    assert sorted(m.key for m in catalog.by_table("blog_post")) == ["blog.Post", "blog.PublishedPost"]


def test_state_counts_models() -> None:
    django_env.setup()
    from django.apps import apps

    assert django_meta.state() == len(apps.get_models(include_auto_created=True))
