"""mysqlclient (``MySQLdb``, Django's recommended MySQL driver).

Its cursors are plain Python classes: ``BaseCursor.execute`` is wrapped in
place, and ``executemany`` runs through it, so each statement it sends (one
multi-row INSERT, or one per row) is one span.  The connection is a Python
subclass of the C ``_mysql.connection``; its ``__init__`` opens it.
``callproc`` and ``Connection.query`` called directly are not traced.

PyMySQL installed as ``MySQLdb`` (``pymysql.install_as_MySQLdb()``) is
PyMySQL's integration's business: these hooks check for mysqlclient's classes.
"""

from __future__ import annotations

from types import ModuleType

from perfdoctor.capture.dbapi import wrap_connect, wrap_execute

SYSTEM = "mysql"


def install_cursors(cursors: ModuleType) -> None:
    base = getattr(cursors, "BaseCursor", None)
    if base is None:  # PyMySQL's cursors under the MySQLdb name
        return
    # The default Cursor has stored the whole result when execute returns; an
    # SSCursor's rowcount stays unknown until read, which _rows_fetched leaves out.
    wrap_execute(base, "execute", SYSTEM, "args", lambda c: c.connection, count_rows=True)


def install_connections(connections: ModuleType) -> None:
    """A ``db.connect`` span each time a ``Connection`` is made (``MySQLdb.connect``)."""
    if not hasattr(connections, "_mysql"):
        return
    wrap_connect(connections.Connection, "__init__", SYSTEM)
