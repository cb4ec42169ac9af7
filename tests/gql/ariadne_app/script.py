"""A script that executes operations on the schema directly, outside any request."""

from __future__ import annotations

import os
import sqlite3

from app import schema, seed
from graphql import graphql_sync

seed()
db = sqlite3.connect(os.environ["GQL_DATABASE"])
for document in ("query PostList { posts { title } }", "{ posts { id } }"):
    result = graphql_sync(schema, document, context_value={"db": db})
    assert not result.errors, result.errors
