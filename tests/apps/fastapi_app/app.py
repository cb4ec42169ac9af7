"""A FastAPI inventory on SQLAlchemy 2 with a sync engine and sync endpoints.

``/items`` has an N+1: each item's owner is lazy-loaded inside the loop.
``/items/fixed`` is the same list with the owners joined in.
"""

from __future__ import annotations

from typing import Annotated

from db import get_session
from fastapi import Depends, FastAPI, HTTPException
from models import Item, Owner
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

app = FastAPI()

SessionDep = Annotated[Session, Depends(get_session)]


@app.get("/items")
def list_items(session: SessionDep) -> list[dict[str, object]]:
    items = session.scalars(select(Item).order_by(Item.id)).all()
    result = []
    for item in items:  # loop: list_items
        owner = item.owner.name  # n+1: list_items
        result.append({"id": item.id, "name": item.name, "owner": owner})
    return result


@app.get("/items/fixed")
def list_items_fixed(session: SessionDep) -> list[dict[str, object]]:
    query = select(Item).options(joinedload(Item.owner)).order_by(Item.id)
    items = session.scalars(query).all()
    return [{"id": item.id, "name": item.name, "owner": item.owner.name} for item in items]


@app.get("/items/{item_id}")
def get_item(item_id: int, session: SessionDep) -> dict[str, object]:
    item = session.get(Item, item_id)
    if item is None:
        raise HTTPException(status_code=404, detail="no such item")
    return {"id": item.id, "name": item.name, "owner": item.owner.name}


@app.get("/owners/{owner_id:int}")
def get_owner(owner_id: int, session: SessionDep) -> dict[str, object]:
    query = select(Owner).options(selectinload(Owner.items)).where(Owner.id == owner_id)
    owner = session.scalars(query).one_or_none()
    if owner is None:
        raise HTTPException(status_code=404, detail="no such owner")
    return {"id": owner.id, "name": owner.name, "items": [item.name for item in owner.items]}


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
