"""A Flask (WSGI) blog: ``/articles`` has an N+1, ``/articles/fixed`` joins."""

from __future__ import annotations

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

from tests.bench import blogdb

app = Flask(__name__)


@app.get("/articles")
def articles() -> ResponseReturnValue:
    return jsonify(blogdb.articles_n_plus_one())


@app.get("/articles/fixed")
def articles_fixed() -> ResponseReturnValue:
    return jsonify(blogdb.articles_fixed())
