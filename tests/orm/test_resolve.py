"""resolve() on hand-written catalogs: which relation a statement proves, and when
nothing is picked.  (tests/orm/test_fixes_*.py run the same on real models.)"""

from __future__ import annotations

from typing import Any

from perfdoctor.model import Location, Span
from perfdoctor.orm.catalog import Catalog
from perfdoctor.orm.fix import write
from perfdoctor.orm.resolve import resolve
from perfdoctor.orm.shape import shape


def rel(name: str, kind: str, target: str, **extra: Any) -> dict[str, Any]:
    to_many = kind in ("reverse_fk", "m2m", "reverse_m2m", "generic_relation")
    return {"name": name, "kind": kind, "target": target, "to_many": to_many, **extra}


def model(key: str, table: str, fields: list[str], *relations: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": key,
        "name": key.rsplit(".", 1)[-1],
        "module": key.rsplit(".", 1)[0],
        "table": table,
        "pk": ["id"],
        "fields": {f: f.removesuffix("_id") for f in fields},
        "relations": list(relations),
    }


# blog.Article: author and editor both -> auth.User; owner -> Profile -> User;
# tags many-to-many; parent -> Article (self).
DJANGO = Catalog.from_dict(
    {
        "framework": "django",
        "models": [
            model(
                "blog.Article",
                "blog_article",
                ["id", "title", "body", "author_id", "editor_id", "owner_id", "parent_id"],
                rel("author", "fk", "auth.User", column="author_id", remote_column="id"),
                rel("editor", "fk", "auth.User", column="editor_id", remote_column="id"),
                rel("owner", "fk", "blog.Profile", column="owner_id", remote_column="id"),
                rel("parent", "fk", "blog.Article", column="parent_id", remote_column="id"),
                rel(
                    "tags",
                    "m2m",
                    "blog.Tag",
                    through="blog_article_tags",
                    through_source="article_id",
                    through_target="tag_id",
                    query_name="tags",
                ),
            ),
            model(
                "blog.Profile",
                "blog_profile",
                ["id", "user_id"],
                rel("user", "o2o", "auth.User", column="user_id", remote_column="id"),
                rel(
                    "books",
                    "reverse_fk",
                    "blog.Book",
                    remote_column="profile_id",
                    query_name="book",
                ),
            ),
            model("blog.Book", "blog_book", ["id", "profile_id"]),
            model("blog.Tag", "blog_tag", ["id", "name"]),
            model("auth.User", "auth_user", ["id", "username"]),
        ],
    }
)
ARTICLES = 'SELECT "blog_article"."id", "blog_article"."title" FROM "blog_article"'
USER_BY_PK = (
    'SELECT "auth_user"."id", "auth_user"."username" FROM "auth_user" '
    'WHERE "auth_user"."id" = ? LIMIT ?'
)


def span(statement: str, framework: str | None = "django") -> Span:
    return Span("db", 0, 1, framework=framework, system="sqlite", statement=statement)


def fix_of(child: str, parent: str | None, source: str = "", catalogs: Any = (DJANGO,)) -> Any:
    parent_span = span(parent) if parent else None
    return write(resolve(span(child), parent_span, catalogs, source))


def test_shape_reads_tables_filters_and_aggregates() -> None:
    m2m = shape(
        "SELECT tags.id FROM tags, post_tags WHERE ? = post_tags.post_id AND tags.id = post_tags.tag_id",
        "sqlite",
    )
    assert m2m is not None
    assert (m2m.table, m2m.tables, m2m.filters) == (
        "tags",
        {"tags", "post_tags"},
        (("post_tags", "post_id"),),
    )
    count = shape(
        "SELECT count(*) AS n FROM (SELECT c.id FROM comments AS c WHERE ? = c.post_id) AS a", None
    )
    assert count is not None and (count.table, count.filters, count.aggregate) == (
        "comments",
        (("comments", "post_id"),),
        "count",
    )
    exists = shape('SELECT ? AS "a" FROM "c" WHERE "c"."post_id" = ? LIMIT ?', "sqlite")
    assert exists is not None and exists.aggregate == "exists"


def test_two_relations_to_one_table_without_the_call_site_are_not_picked() -> None:
    fix = fix_of(USER_BY_PK, ARTICLES)
    assert fix.machine["kind"] == "candidates"
    assert "Article.author, Article.editor" in fix.text
    assert '.select_related("author") or .select_related("editor")' in fix.text
    assert fix.what == "author or editor"


def test_the_call_site_picks_the_attribute_it_reads() -> None:
    fix = fix_of(USER_BY_PK, ARTICLES, "rows.append(article.editor.username)")
    assert fix.machine["calls"] == [{"method": "select_related", "args": ["editor"], "kwargs": {}}]
    both = fix_of(USER_BY_PK, ARTICLES, "(a.author.username, a.editor.username)")
    assert both.machine["calls"][0]["args"] == ["author", "editor"]


def test_nested_path_from_the_call_site_or_the_parent_join() -> None:
    joined = (
        'SELECT "blog_article"."id", "blog_profile"."id" FROM "blog_article" '
        'INNER JOIN "blog_profile" ON ("blog_article"."owner_id" = "blog_profile"."id")'
    )
    by_join = fix_of(USER_BY_PK, joined)
    assert by_join.machine["calls"][0]["args"] == ["owner__user"]
    by_line = fix_of(USER_BY_PK, ARTICLES, "name = article.owner.user.username")
    assert by_line.machine["calls"][0]["args"] == ["owner__user"]


def test_to_many_step_in_a_path_is_prefetched() -> None:
    books = 'SELECT "blog_book"."id" FROM "blog_book" WHERE "blog_book"."profile_id" = ?'
    fix = fix_of(books, ARTICLES, "for b in article.owner.books.all()")
    assert fix.machine["calls"] == [
        {"method": "prefetch_related", "args": ["owner__books"], "kwargs": {}}
    ]


def test_self_referential_fk_is_a_relation_and_a_left_out_column_is_deferred() -> None:
    every = ", ".join(
        f'"blog_article"."{c}"'
        for c in ("id", "title", "body", "author_id", "editor_id", "owner_id", "parent_id")
    )
    parent = f'SELECT {every} FROM "blog_article" WHERE "blog_article"."id" = ? LIMIT ?'
    assert fix_of(parent, ARTICLES, "a.parent.title").machine["calls"][0]["args"] == ["parent"]
    body = 'SELECT "blog_article"."id", "blog_article"."body" FROM "blog_article" WHERE "blog_article"."id" = ? LIMIT ?'
    deferred = fix_of(body, ARTICLES, "len(a.body)")
    assert deferred.machine["kind"] == "deferred" and 'add "body" to .only(...)' in deferred.text


def test_an_explicit_query_that_names_no_relation_is_a_batched_lookup() -> None:
    fix = fix_of(USER_BY_PK, ARTICLES, "User.objects.get(pk=ids[i])")
    assert fix.machine["kind"] == "batch" and "User.objects.in_bulk(ids)" in fix.text
    # ...but reading the FK column of a relation names that relation
    fix = fix_of(USER_BY_PK, ARTICLES, "User.objects.get(pk=article.editor_id)")
    assert fix.machine["calls"][0]["args"] == ["editor"]


def test_count_per_row_through_the_association_table() -> None:
    count = 'SELECT COUNT(*) AS "__count" FROM "blog_article_tags" WHERE "blog_article_tags"."article_id" = ?'
    fix = fix_of(count, ARTICLES)
    assert '.annotate(tags_count=Count("tags"))' in fix.text


def test_raw_sql_keeps_the_in_query_fix() -> None:
    fix = write(
        resolve(
            span("SELECT name FROM author WHERE id = ?", None),
            span("SELECT id FROM article", None),
            [DJANGO],
        )
    )
    assert "WHERE id IN (...)" in fix.text and fix.machine == {
        "framework": None,
        "kind": "batch",
        "table": "author",
        "column": "id",
    }


def test_a_catalog_of_another_orm_names_nothing() -> None:
    sqlalchemy = Catalog.from_dict({"framework": "sqlalchemy", "models": []})
    fix = fix_of(USER_BY_PK, ARTICLES, "a.author", catalogs=(sqlalchemy,))
    assert fix.machine["kind"] == "look_for" and "author" not in fix.text.replace("auth_user", "")


SA = Catalog.from_dict(
    {
        "framework": "sqlalchemy",
        "models": [
            model(
                "app.Post",
                "posts",
                ["id", "owner_id"],
                rel("owner", "fk", "app.User", column="owner_id", remote_column="id"),
            ),
            model(
                "app.User",
                "users",
                ["id"],
                rel("feed", "reverse_fk", "app.Item", remote_column="user_id", lazy="dynamic"),
            ),
            model("app.Item", "items", ["id", "user_id"]),
        ],
    }
)


def test_sqlalchemy_dynamic_behind_a_path_is_not_eager_loaded() -> None:
    items = "SELECT items.id, items.user_id FROM items WHERE ? = items.user_id"
    child = Span("db", 0, 1, framework="sqlalchemy", system="sqlite", statement=items)
    parent = Span(
        "db", 0, 1, framework="sqlalchemy", system="sqlite", statement="SELECT posts.id FROM posts"
    )
    fix = write(resolve(child, parent, [SA], "post.owner.feed.all()"))
    assert "User.feed)" not in fix.text and fix.machine["kind"] == "look_for"
    direct = Span(
        "db", 0, 1, framework="sqlalchemy", system="sqlite", statement="SELECT users.id FROM users"
    )
    fix = write(resolve(child, direct, [SA], "user.feed.all()"))
    assert fix.machine["kind"] == "batch_children"


def test_call_site_source_is_read_from_the_location(tmp_path: Any) -> None:
    from perfdoctor.orm.fix import call_site_source

    path = tmp_path / "views.py"
    path.write_text("x = 1\nnames = [a.editor.username for a in rows]\n")
    child = span(USER_BY_PK)
    child.location = Location(str(path), 2, "view")
    assert call_site_source(child) == "names = [a.editor.username for a in rows]"


def test_a_line_that_queries_another_model_is_not_a_lookup() -> None:
    # a view's line that renders a template which reads the relation: not a .get()
    fix = fix_of(
        USER_BY_PK, ARTICLES, 'return render(request, "a.html", {"a": Article.objects.filter(x=1)})'
    )
    assert fix.machine["kind"] == "candidates"


def test_first_per_row_on_a_column_is_a_keyed_lookup() -> None:
    first = (
        'SELECT "blog_tag"."id", "blog_tag"."name" FROM "blog_tag" WHERE "blog_tag"."name" = ? '
        'ORDER BY "blog_tag"."id" ASC LIMIT ?'
    )
    fix = fix_of(first, None, "Tag.objects.filter(name=n).first()")
    assert fix.machine == {
        "framework": "django",
        "kind": "batch",
        "on": "blog.Tag",
        "field": "name",
        "attr": "name",
        "many": False,
    }
    assert "{o.name: o for o in Tag.objects.filter(name__in=values)}" in fix.text


def test_a_nested_path_is_a_candidate_only_if_the_rows_it_passes_were_loaded() -> None:
    def candidates(loaded: frozenset[str]) -> list[str]:
        res = resolve(span(USER_BY_PK), span(ARTICLES), [DJANGO], "", loaded)
        assert not res.paths
        return [".".join(s.relation.name for s in p) for p in res.candidates]

    assert candidates(frozenset()) == ["author", "editor"]
    # the profiles were read one by one in the loop (a sibling N+1): owner.user is possible
    assert candidates(frozenset({"blog_profile"})) == ["author", "editor", "owner.user"]


def _flask_conduit(version: str) -> Catalog:
    """The shape of a real Flask-SQLAlchemy app: Article.author -> UserProfile ->
    User, and Article.favoriters, a lazy="dynamic" many-to-many to UserProfile."""
    return Catalog.from_dict(
        {
            "framework": "sqlalchemy",
            "version": version,
            "models": [
                model(
                    "app.Article",
                    "article",
                    ["id", "author_id"],
                    rel("author", "fk", "app.UserProfile", column="author_id", remote_column="id"),
                    rel(
                        "favoriters",
                        "m2m",
                        "app.UserProfile",
                        through="favoritor_assoc",
                        through_source="favorited_article",
                        through_target="favoriter",
                        lazy="dynamic",
                    ),
                ),
                model(
                    "app.UserProfile",
                    "userprofile",
                    ["id", "user_id"],
                    rel("user", "fk", "app.User", column="user_id", remote_column="id"),
                ),
                model("app.User", "users", ["id", "bio"]),
            ],
        }
    )


FLASK_ARTICLES = "SELECT article.id, article.author_id FROM article LIMIT ? OFFSET ?"
FLASK_USER = "SELECT users.id, users.bio FROM users WHERE users.id = ?"
FAVORITERS = (
    "SELECT userprofile.id, userprofile.user_id FROM userprofile, favoritor_assoc "
    "WHERE ? = favoritor_assoc.favorited_article AND userprofile.id = favoritor_assoc.favoriter"
)


def test_a_path_through_a_dynamic_relationship_is_no_candidate() -> None:
    """user per row could come through Article.author or Article.favoriters; the second
    cannot be eager-loaded (selectinload on a dynamic relationship raises), so the fix
    names the first instead of offering both."""
    sa = _flask_conduit("2.0.30")
    child = span(FLASK_USER, "sqlalchemy")
    fix = write(resolve(child, span(FLASK_ARTICLES, "sqlalchemy"), (sa,), "return self.user.bio"))
    assert fix.machine["kind"] == "eager", fix.text
    assert "joinedload(Article.author).joinedload(UserProfile.user)" in fix.text
    assert "favoriters" not in fix.text
    # Pasted without it, a real app's list view raised NameError on UserProfile.
    assert "(from sqlalchemy.orm import joinedload; from app import UserProfile)" in fix.text


def test_a_dynamic_relationship_fix_speaks_the_app_s_sqlalchemy() -> None:
    """The app pins SQLAlchemy 1.2: no session.execute(select(...)) there."""
    parent = span(FLASK_ARTICLES, "sqlalchemy")
    for version, expected, absent in (
        ("1.2.19", "session.query(Article.id, UserProfile)", "session.execute("),
        ("2.0.30", "session.execute(select(Article.id, UserProfile)", "session.query("),
    ):
        child = span(FAVORITERS, "sqlalchemy")
        source = "return len(self.favoriters.all())"
        fix = write(resolve(child, parent, (_flask_conduit(version),), source))
        assert expected in fix.text and absent not in fix.text, fix.text
        assert ".all()/.filter()/.count()" in fix.text


def test_a_range_beside_the_key_is_no_key_to_batch_by() -> None:
    # Wagtail's menu asks each page whether it has children in the menu:
    # depth = ? AND path BETWEEN ? AND ? (treebeard). The row's own value is the
    # path range, not the depth: a fix batching by depth__in would load wrong rows.
    exists = (
        'SELECT ? AS "a" FROM "blog_article" WHERE ("blog_article"."title" = ? AND '
        '"blog_article"."body" BETWEEN ? AND ?) LIMIT ?'
    )
    assert "title__in" not in fix_of(exists, ARTICLES).text
    keyed = 'SELECT ? AS "a" FROM "blog_article" WHERE "blog_article"."title" = ? LIMIT ?'
    assert "title__in=keys" in fix_of(keyed, ARTICLES).text


TREE = Catalog.from_dict(
    {
        "framework": "django",
        "models": [
            model(
                "wagtailcore.Page",
                "wagtailcore_page",
                ["id", "path", "depth", "numchild", "title", "live", "show_in_menus"],
            )
        ],
    }
)
PAGES = 'SELECT "wagtailcore_page"."id", "wagtailcore_page"."path" FROM "wagtailcore_page"'


def test_children_of_each_tree_node_are_one_level_loaded_once() -> None:
    # The bakery demo's menu: has_menu_children(page) per item,
    # page.get_children().live().in_menu().exists(). Pasted into its top_menu tag,
    # the fix gave the same menu and no N+1.
    has_children = (
        'SELECT ? AS "a" FROM "wagtailcore_page" WHERE ("wagtailcore_page"."depth" = ? AND '
        '"wagtailcore_page"."path" BETWEEN ? AND ? AND "wagtailcore_page"."live" AND '
        '"wagtailcore_page"."show_in_menus") LIMIT ?'
    )
    fix = fix_of(has_children, PAGES, catalogs=(TREE,))
    assert fix.machine["kind"] == "tree_children"
    assert "Page.objects.filter(depth=parent.depth + 2, path__startswith=parent.path)" in fix.text
    assert "parents = {c.path[:-Page.steplen] for c in children}" in fix.text
    listed = (
        'SELECT "wagtailcore_page"."id" FROM "wagtailcore_page" WHERE ("wagtailcore_page"."depth" = ? '
        'AND "wagtailcore_page"."path" BETWEEN ? AND ?) ORDER BY "wagtailcore_page"."path" ASC'
    )
    assert "by_parent.get(row.path, [])" in fix_of(listed, PAGES, catalogs=(TREE,)).text


def test_a_title_names_three_candidates_and_counts_the_rest() -> None:
    # The bakery demo's listing card: nine relations of its pages reach an image,
    # and the title listed all nine.
    pictures = Catalog.from_dict(
        {
            "framework": "django",
            "models": [
                model(
                    "site.Card",
                    "site_card",
                    ["id", *(f"picture{i}_id" for i in range(5))],
                    *(
                        rel(
                            f"picture{i}",
                            "fk",
                            "site.Picture",
                            column=f"picture{i}_id",
                            remote_column="id",
                        )
                        for i in range(5)
                    ),
                ),
                model("site.Picture", "site_picture", ["id", "file"]),
            ],
        }
    )
    picture = 'SELECT "site_picture"."id", "site_picture"."file" FROM "site_picture" WHERE "site_picture"."id" = ? LIMIT ?'
    fix = fix_of(picture, 'SELECT "site_card"."id" FROM "site_card"', catalogs=(pictures,))
    assert fix.what == "picture0 or picture1 or picture2 (or 2 more relations)"
    assert all(f"Card.picture{i}" in fix.text for i in range(5))


def test_a_template_line_is_the_call_site_source(tmp_path: Any) -> None:
    from perfdoctor.orm.fix import call_site_source

    template = tmp_path / "card.html"
    template.write_text("<li>\n  {{ article.editor.username }}\n</li>\n")
    child = span(USER_BY_PK)
    # The view's render call is the user frame; the template line reads the relation.
    child.location = Location(str(tmp_path / "views.py"), 9, "page")
    child.attrs["trigger"] = {"kind": "django-template", "path": str(template), "line": 2, "inside": 0}
    assert call_site_source(child) == "{{ article.editor.username }}"
    # Through an app's own template tag, the tag's code is the place to read.
    child.attrs["trigger"]["inside"] = 1
    assert call_site_source(child) == ""


# Wagtail-like multi-table inheritance: a BreadPage row is wagtailcore_page joined
# with breads_breadpage; pages have aliases (Page -> Page) and a HomePage subclass.
PAGE_TYPES = Catalog.from_dict(
    {
        "framework": "django",
        "models": [
            model(
                "wagtailcore.Page",
                "wagtailcore_page",
                ["id", "title", "alias_of_id"],
                rel("aliases", "reverse_fk", "wagtailcore.Page", column="id", remote_column="alias_of_id"),
                rel("homepage", "reverse_o2o", "home.HomePage", column="id", remote_column="page_ptr_id"),
            ),
            {
                **model(
                    "home.HomePage",
                    "home_homepage",
                    ["page_ptr_id", "image_id"],
                    rel("image", "fk", "images.Image", column="image_id", remote_column="id"),
                ),
                "pk": ["page_ptr_id"],
                "parents": ["wagtailcore.Page"],
            },
            {
                **model(
                    "breads.BreadPage",
                    "breads_breadpage",
                    ["page_ptr_id", "image_id"],
                    rel("aliases", "reverse_fk", "wagtailcore.Page", column="id", remote_column="alias_of_id"),
                    rel("image", "fk", "images.Image", column="image_id", remote_column="id"),
                ),
                "pk": ["page_ptr_id"],
                "parents": ["wagtailcore.Page"],
            },
            model("images.Image", "images_image", ["id", "title"]),
        ],
    }
)
IMAGE_BY_PK = 'SELECT "images_image"."id", "images_image"."title" FROM "images_image" WHERE "images_image"."id" = ? LIMIT ?'
BREADS_JOIN = (
    'SELECT "wagtailcore_page"."id", "wagtailcore_page"."title", "breads_breadpage"."page_ptr_id", '
    '"breads_breadpage"."image_id" FROM "breads_breadpage" INNER JOIN "wagtailcore_page" ON '
    '("breads_breadpage"."page_ptr_id" = "wagtailcore_page"."id") WHERE {where}'
)


def test_a_subclass_s_join_of_its_parent_table_is_no_relation_passed_through() -> None:
    # BreadPage.objects.live().descendant_of(index): the join is the page's own
    # columns; it said "aliases.homepage.image or ..." and never BreadPage.image.
    parent = BREADS_JOIN.format(where='"wagtailcore_page"."live" ORDER BY "wagtailcore_page"."title"')
    fix = fix_of(IMAGE_BY_PK, parent, catalogs=(PAGE_TYPES,))
    assert fix.text.startswith('Add .select_related("image") to the queryset the loop iterates')
    assert fix.machine["on"] == "breads.BreadPage"
    assert "aliases" not in fix.text


def test_pages_loaded_by_specific_get_the_page_type_s_fix() -> None:
    parent = BREADS_JOIN.format(where='"breads_breadpage"."page_ptr_id" IN (...)')
    fix = fix_of(IMAGE_BY_PK, parent, catalogs=(PAGE_TYPES,))
    assert "Wagtail's .specific()" in fix.text
    assert '.select_related("image", for_specific_subqueries=True)' in fix.text
    assert 'BreadPage.objects.live().child_of(page).select_related("image")' in fix.text
    assert fix.machine["specific"] is True
    assert fix.machine["calls"][0]["kwargs"] == {"for_specific_subqueries": True}
    # The same pages filtered by the app on one id are not .specific()'s query.
    own = BREADS_JOIN.format(where='NOT ("breads_breadpage"."page_ptr_id" = ?)')
    assert "specific" not in fix_of(IMAGE_BY_PK, own, catalogs=(PAGE_TYPES,)).text


def test_a_grouped_loop_query_is_eager_loaded_in_a_query_of_its_own() -> None:
    # microblog's following_posts() groups the posts; pasted into the app (SQLAlchemy
    # 2.0.23 on PostgreSQL), joinedload failed with GroupingError, selectinload ran.
    sa = _flask_conduit("2.0.23")
    grouped = (
        "SELECT article.id, article.author_id FROM article JOIN userprofile ON "
        "userprofile.id = article.author_id GROUP BY article.id, article.author_id"
    )
    assert shape(grouped, "postgresql").grouped
    child = span(FLASK_USER, "sqlalchemy")
    fix = write(resolve(child, span(grouped, "sqlalchemy"), (sa,), "return self.user.bio"))
    assert "selectinload(Article.author).joinedload(UserProfile.user)" in fix.text, fix.text
    assert "GROUP BY" in fix.text
    # Without GROUP BY the same loop keeps its JOIN.
    assert not shape(FLASK_ARTICLES, "sqlite").grouped
    plain = write(resolve(child, span(FLASK_ARTICLES, "sqlalchemy"), (sa,), "return self.user.bio"))
    assert "joinedload(Article.author).joinedload(UserProfile.user)" in plain.text


# django-oscar's shapes: products with an EXISTS annotation, a generic relation on
# their attribute values, and sorl-thumbnail's key-value table.
SHOP = Catalog.from_dict(
    {
        "framework": "django",
        "models": [
            model(
                "catalogue.Product",
                "catalogue_product",
                ["id", "title"],
                rel("attribute_values", "reverse_fk", "catalogue.AttributeValue", column="id", remote_column="product_id"),
            ),
            model(
                "catalogue.AttributeValue",
                "catalogue_attributevalue",
                ["id", "product_id", "entity_object_id"],
                rel("product", "fk", "catalogue.Product", column="product_id", remote_column="id"),
                rel("value_entity", "gfk", "", column="entity_object_id"),
            ),
            {**model("thumbnail.KVStore", "thumbnail_kvstore", ["key", "value"]), "pk": ["key"]},
            model("catalogue.Category", "catalogue_category", ["id", "name"]),
        ],
    }
)
PRODUCTS = 'SELECT "catalogue_product"."id", "catalogue_product"."title" FROM "catalogue_product"'
THUMBNAIL = (
    'SELECT "thumbnail_kvstore"."key", "thumbnail_kvstore"."value" FROM "thumbnail_kvstore" '
    'WHERE "thumbnail_kvstore"."key" = ? LIMIT ?'
)


def test_an_exists_beside_the_columns_is_an_annotation_not_an_exists_query() -> None:
    annotated = (
        'SELECT "catalogue_product"."id", "catalogue_product"."title", EXISTS(SELECT ? AS "a" '
        'FROM "catalogue_option" "U0" WHERE "U0"."product_id" = ("catalogue_product"."id") '
        'LIMIT ?) AS "has_options" FROM "catalogue_product" WHERE "catalogue_product"."id" = ? LIMIT ?'
    )
    assert shape(annotated, "sqlite").aggregate is None
    exists = 'SELECT ? AS "a" FROM "catalogue_product" WHERE "catalogue_product"."id" = ? LIMIT ?'
    assert shape(exists, "sqlite").aggregate == "exists"
    count = 'SELECT COUNT(*) AS "__count" FROM "catalogue_product" WHERE "catalogue_product"."id" = ?'
    assert shape(count, "sqlite").aggregate == "count"


def test_a_generic_relation_fits_any_table_so_only_a_call_site_naming_it_picks_it() -> None:
    # Each image's thumbnail looked up by key: it was "attribute_values.value_entity".
    kv_per_row = fix_of(THUMBNAIL, PRODUCTS, "{% oscar_thumbnail image.original as thumb %}", (SHOP,))
    assert "value_entity" not in kv_per_row.text
    assert kv_per_row.machine["on"] == "thumbnail.KVStore", kv_per_row.text
    named = fix_of(THUMBNAIL, PRODUCTS, "{{ value.value_entity }}", (SHOP,))
    assert "attribute_values__value_entity" in named.text


def test_a_nested_path_through_rows_never_loaded_is_no_relation() -> None:
    # Products read back one by one from a search index after a menu's categories:
    # "Category.productcategory_set.product or 9 more" named paths through rows the
    # request never loaded; it is a lookup per row.
    categories = 'SELECT "catalogue_category"."id", "catalogue_category"."name" FROM "catalogue_category"'
    by_id = 'SELECT "catalogue_product"."id", "catalogue_product"."title" FROM "catalogue_product" WHERE "catalogue_product"."id" = ? LIMIT ?'
    catalog = Catalog.from_dict(
        {
            "framework": "django",
            "models": [
                model(
                    "catalogue.Category",
                    "catalogue_category",
                    ["id", "name"],
                    rel("links", "reverse_fk", "catalogue.Link", column="id", remote_column="category_id"),
                ),
                model(
                    "catalogue.Link",
                    "catalogue_link",
                    ["id", "category_id", "product_id"],
                    rel("product", "fk", "catalogue.Product", column="product_id", remote_column="id"),
                ),
                model("catalogue.Product", "catalogue_product", ["id", "title"]),
            ],
        }
    )
    child, parent = span(by_id), span(categories)
    res = resolve(child, parent, (catalog,), "", earlier=(shape(categories, "sqlite"),))
    assert res.kind == "lookup" and not res.candidates, res
    # Had the request loaded the links, the path would be the relation.
    links = 'SELECT "catalogue_link"."id", "catalogue_link"."product_id" FROM "catalogue_link" WHERE "catalogue_link"."category_id" = ?'
    res = resolve(child, parent, (catalog,), "", earlier=(shape(categories, "sqlite"), shape(links, "sqlite")))
    assert res.kind == "relation", res


def test_each_catalog_gets_its_own_paths_when_one_query_is_resolved_again() -> None:
    """The paths found for a query are remembered per catalog (a page's N+1 is
    resolved again for each set of statements read before its loop): another
    catalog with the same tables names its own relation."""
    renamed = Catalog.from_dict(
        {
            "framework": "django",
            "models": [
                model(
                    "blog.Article",
                    "blog_article",
                    ["id", "title", "writer_id"],
                    rel("writer", "fk", "auth.User", column="writer_id", remote_column="id"),
                ),
                model("auth.User", "auth_user", ["id", "username"]),
            ],
        }
    )
    first = fix_of(USER_BY_PK, ARTICLES, "a.editor.username")
    other = fix_of(USER_BY_PK, ARTICLES, "a.writer.username", catalogs=(renamed,))
    again = fix_of(USER_BY_PK, ARTICLES, "a.editor.username")
    assert first.machine["calls"][0]["args"] == ["editor"] == again.machine["calls"][0]["args"]
    assert other.machine["calls"][0]["args"] == ["writer"]
