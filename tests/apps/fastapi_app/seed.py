"""Create the schema and the sample data: ``python seed.py`` (run before the server).

Every item has its own owner, so reading each item's owner costs one lazy load
per item.
"""

from __future__ import annotations

from db import engine
from models import Base, Item, Owner
from sqlalchemy.orm import Session

ITEMS = 15


def seed() -> None:
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        for number in range(1, ITEMS + 1):
            session.add(Item(name=f"Item {number}", owner=Owner(name=f"Owner {number}")))
        session.commit()


if __name__ == "__main__":
    seed()
