"""How a SQLAlchemy relationship loads, and the code that loads it for many rows.

One place for what the runtime fixes (``fix_sqlalchemy``, from live mappers) and
``perfdoctor lint`` (from ``relationship()`` declarations in the source) say, so
both name a relation and its fix the same way::

    >>> eager_option("Post", "tags", to_many=True)
    'selectinload(Post.tags)'
    >>> children_query("User", "id", "followers", "User")[0]
    'select(User.id, other).join(User.followers.of_type(other)).where(User.id.in_(ids))'
"""

from __future__ import annotations

# Loader strategies that keep a relationship out of eager loading: a query object
# (dynamic) or a write-only collection; selectinload/joinedload on them raises.
NOT_EAGER = frozenset({"dynamic", "write_only"})
# Strategies that load the relation with its parent (or refuse to load it): reading
# it in a loop then costs no query per row.
EAGER = frozenset(
    {"joined", "selectin", "subquery", "immediate", "raise", "raise_on_sql", "noload"}
)
# relationship(lazy=True/False/None) are old spellings of these strategies.
LAZY_ALIASES: dict[object, str] = {True: "select", False: "joined", None: "noload"}


def loader(to_many: bool) -> str:
    """A collection is loaded by one SELECT ... IN for every row; one object by a JOIN."""
    return "selectinload" if to_many else "joinedload"


def eager_option(owner: str, relation: str, to_many: bool) -> str:
    return f"{loader(to_many)}({owner}.{relation})"


def alias_setup(target: str) -> str:
    return f"other = aliased({target})"


def other_side(owner: str, target: str, rel: str) -> tuple[str, str, str]:
    """How a grouped query names the related rows: the class itself, or an alias of
    it when the relationship joins a class to itself (followers, parent/children),
    which SQLAlchemy refuses to join unaliased ("they are the same entity")."""
    if owner != target:
        return target, rel, ""
    setup = f"{alias_setup(target)} (from sqlalchemy.orm import aliased); "
    return "other", f"{rel}.of_type(other)", setup


def count_query(owner: str, pk: str, relation: str, target: str, target_pk: str) -> tuple[str, str]:
    """One grouped count of ``owner.relation`` for the rows ``ids``: (code, alias setup)."""
    other, joined, alias = other_side(owner, target, f"{owner}.{relation}")
    code = (
        f"select({owner}.{pk}, func.count({other}.{target_pk})).join({joined})"
        f".where({owner}.{pk}.in_(ids)).group_by({owner}.{pk})"
    )
    return code, alias


def children_query(owner: str, pk: str, relation: str, target: str) -> tuple[str, str]:
    """The related rows of every row in ``ids`` in one query: (code, alias setup)."""
    other, joined, alias = other_side(owner, target, f"{owner}.{relation}")
    code = f"select({owner}.{pk}, {other}).join({joined}).where({owner}.{pk}.in_(ids))"
    return code, alias
