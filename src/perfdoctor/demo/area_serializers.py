"""A serializer runs the loop: the N+1 is on no line of the view.

* ``/serializers/articles``: the latest articles dumped by a marshmallow schema
  whose nested ``author`` field loads each article's author with a query of its
  own (``n-plus-one-query``).  No line of the view repeats anything; the
  finding points at the ``select()`` handed to ``dump`` and names the field
  that loads each row (``ArticleSchema.author``).

Its ``/fixed`` twin eager-loads the authors with ``joinedload``: the rows come
in the same query through a JOIN and the schema reads them from memory.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from marshmallow import Schema, fields
from sqlalchemy import select
from sqlalchemy.orm import joinedload, load_only

from perfdoctor.demo.app import db
from perfdoctor.demo.models import Article

ENDPOINTS = ("/serializers/articles", "/serializers/articles/fixed")

PAGE_SIZE = 20

blueprint = Blueprint("serializers", __name__, url_prefix="/serializers")


class AuthorSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class ArticleSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    author = fields.Nested(AuthorSchema)  # the field that loads each article's author


@blueprint.get("/articles")
def articles() -> Response:
    query = (  # n-plus-one-query: the rows the schema walks
        select(Article)
        .options(load_only(Article.id, Article.title, Article.author_id))
        .order_by(Article.published_at.desc())
        .limit(PAGE_SIZE)
    )
    rows = db().scalars(query).all()
    return jsonify(articles=ArticleSchema(many=True).dump(rows))


@blueprint.get("/articles/fixed")
def articles_fixed() -> Response:
    query = (
        select(Article)
        .options(load_only(Article.id, Article.title, Article.author_id))
        .options(joinedload(Article.author))
        .order_by(Article.published_at.desc())
        .limit(PAGE_SIZE)
    )
    rows = db().scalars(query).all()
    return jsonify(articles=ArticleSchema(many=True).dump(rows))
