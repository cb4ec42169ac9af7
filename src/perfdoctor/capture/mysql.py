"""PyMySQL (also when installed as ``MySQLdb`` for Django's MySQL backend).

Only ``execute`` is wrapped: PyMySQL's ``executemany`` runs through it, so each
statement it sends is one span.
"""

from __future__ import annotations

from types import ModuleType

from perfdoctor.capture.dbapi import wrap_execute


def install(cursors: ModuleType) -> None:
    wrap_execute(cursors.Cursor, "execute", "mysql", "args", lambda c: c.connection)
