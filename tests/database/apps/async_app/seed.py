"""Create the schema, the ``pause`` function and 50 items: ``python seed.py``."""

from __future__ import annotations

from db import SQLITE, sync_engine
from models import Base, Item
from sqlalchemy import text
from sqlalchemy.orm import Session

PAUSE = """
CREATE OR REPLACE FUNCTION pause(ms integer) RETURNS integer AS $$
BEGIN
    PERFORM pg_sleep(ms / 1000.0);
    RETURN ms;
END
$$ LANGUAGE plpgsql
"""


def seed() -> None:
    engine = sync_engine()
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        if not SQLITE:
            session.execute(text(PAUSE))
        session.add_all(Item(name=f"Item {n}", price=n * 10) for n in range(1, 51))
        session.commit()


if __name__ == "__main__":
    seed()
