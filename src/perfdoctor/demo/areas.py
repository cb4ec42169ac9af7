"""The demo's endpoints beyond the blog, one module per area of the catalogue.

An area module ``perfdoctor.demo.area_<name>`` defines:

* ``blueprint``: a Flask ``Blueprint`` with the slow endpoints and their
  ``/fixed`` twins;
* ``ENDPOINTS``: the paths the driver requests each round (``{author_id}``
  is filled in as for the blog); a path may start with its method
  (``"POST /responses/authors/{author_id}/follow"``, sent with an empty JSON
  body), else it is a GET;
* optionally ``setup(app)``: called once when the app is created (to start a
  local stand-in for an external API, say).

Requests carry the credentials of one of ``USERS`` in turn, so endpoints that
depend on who is logged in see more than one user.
"""

from __future__ import annotations

import importlib
from types import ModuleType

AREAS = ("external", "caching", "responses", "database", "async", "serializers")
USERS = ("alice", "bob")


def load() -> list[ModuleType]:
    modules = []
    for name in AREAS:
        try:
            modules.append(importlib.import_module(f"perfdoctor.demo.area_{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"perfdoctor.demo.area_{name}":
                raise
    return modules


def endpoints() -> tuple[str, ...]:
    return tuple(path for module in load() for path in getattr(module, "ENDPOINTS", ()))


def authorization(user: str) -> str:
    """The header the driver sends for ``user`` (the demo's stand-in for a login)."""
    return f"Bearer demo-token-{user}"


def user_of(header: str | None) -> str | None:
    prefix = "Bearer demo-token-"
    if header and header.startswith(prefix) and header[len(prefix) :] in USERS:
        return header[len(prefix) :]
    return None
