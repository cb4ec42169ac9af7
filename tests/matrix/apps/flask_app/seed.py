"""Create the tables and a few rows; prints the versions this ran on."""

import json
import sys
from importlib.metadata import version

from app import Author, Base, Book, Session, engine

Base.metadata.create_all(engine)
session = Session()
for i in range(6):
    session.add(Book(title=f"book {i}", author=Author(name=f"author {i}")))
session.commit()
session.close()
print(json.dumps({
    "python": "{}.{}".format(*sys.version_info[:2]),
    "flask": version("flask"),
    "sqlalchemy": version("sqlalchemy"),
}))
