"""A database URL becomes a session that cannot change the user's data for long.

Every session sets a lock timeout and a statement timeout, and starts read-only
where the database allows it.  Work that must create something (an index to
try) happens inside :meth:`Session.scratch`, a transaction that is always
rolled back.

>>> parse_url("sqlite:///app.db").dialect
'sqlite'
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from perfdoctor.errors import DatabaseError

_SCHEMES = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}
Row = tuple[Any, ...]


@dataclass(frozen=True)
class DatabaseURL:
    dialect: str
    raw: str
    host: str = ""
    port: int | None = None
    user: str = ""
    password: str = ""
    database: str = ""

    @property
    def display(self) -> str:
        """The URL without its password, for messages."""
        if self.dialect == "sqlite":
            return self.raw
        who = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{self.dialect}://{who}{self.host}{port}/{self.database}"


def parse_url(url: str) -> DatabaseURL:
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0].lower()
    dialect = _SCHEMES.get(scheme)
    if dialect is None:
        raise DatabaseError(
            f"cannot use database URL {url.split('@')[-1]!r}: give sqlite:///path.db, "
            "postgresql://user@host/db, mysql://user@host:3306/db or mariadb://..."
        )
    if dialect == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute.db, as SQLAlchemy spells them.
        path = url.split("://", 1)[1]
        path = path[1:] if path.startswith("/") else path
        return DatabaseURL("sqlite", url, database=unquote(path))
    try:
        port = parts.port
    except ValueError as exc:
        raise DatabaseError(f"bad port in database URL: {exc}") from exc
    return DatabaseURL(
        dialect,
        url,
        host=parts.hostname or "127.0.0.1",
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/"),
    )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


class Session:
    """One connection, with the dialect's safety settings applied."""

    dialect: str = ""
    # The driver's DB-API connection, opened by each dialect's __init__.
    conn: Any

    def __init__(self, url: DatabaseURL, lock_timeout_ms: int, statement_timeout_ms: int) -> None:
        self.url = url
        self.lock_timeout_ms = lock_timeout_ms
        self.statement_timeout_ms = statement_timeout_ms

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        raise NotImplementedError

    def scratch(self) -> Any:
        """A context manager: a writable transaction that is always rolled back."""
        raise NotImplementedError

    @contextmanager
    def _rolled_back(self, begin: str) -> Iterator[None]:
        self.query(begin)
        try:
            yield
        finally:
            self.query("ROLLBACK")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SQLiteSession(Session):
    dialect = "sqlite"
    STEP = 100  # fine enough to see an index lookup, cheap enough to run on every scan

    def __init__(
        self,
        url: DatabaseURL,
        lock_timeout_ms: int,
        statement_timeout_ms: int,
        writable: bool = True,
    ) -> None:
        super().__init__(url, lock_timeout_ms, statement_timeout_ms)
        path = Path(url.database)
        if not path.is_file():
            raise DatabaseError(f"no SQLite database at {path}: check the path in the URL")
        # mode=rw never creates a file; the only writes are inside scratch(), rolled back.
        # Plans alone need no write access at all: mode=ro.
        uri = f"file:{path.resolve()}?mode={'rw' if writable else 'ro'}"
        try:
            self.conn = sqlite3.connect(
                uri, uri=True, timeout=lock_timeout_ms / 1000, isolation_level=None
            )
            self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open {path} as SQLite: {first_line(exc)}") from exc
        self.steps = 0
        self._deadline = 0.0
        # Every STEP virtual-machine instructions: counts work (the SQLite plan
        # cost) and enforces the statement timeout, which SQLite lacks.
        self.conn.set_progress_handler(self._progress, self.STEP)

    def _progress(self) -> int:
        self.steps += 1
        return 1 if self._deadline and time.monotonic() > self._deadline else 0

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        rows, _ = self.run_counting(sql, params, keep=True)
        return rows

    def run_counting(
        self, sql: str, params: Sequence[Any] = (), keep: bool = False
    ) -> tuple[list[Row], int]:
        """Rows (when ``keep``) and the VM instructions the statement took (to ``STEP``)."""
        self.steps = 0
        self._deadline = time.monotonic() + self.statement_timeout_ms / 1000
        rows: list[Row] = []
        try:
            cursor = self.conn.execute(sql, tuple(params))
            for row in cursor:
                if keep:
                    rows.append(tuple(row))
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise DatabaseError(
                    f"statement stopped after {self.statement_timeout_ms} ms "
                    "(advisor_statement_timeout_ms)"
                ) from exc
            raise
        finally:
            self._deadline = 0.0
        return rows, self.steps * self.STEP

    def scratch(self) -> Any:
        return self._rolled_back("BEGIN")


class PostgresSession(Session):
    dialect = "postgresql"

    def __init__(self, url: DatabaseURL, lock_timeout_ms: int, statement_timeout_ms: int) -> None:
        super().__init__(url, lock_timeout_ms, statement_timeout_ms)
        try:
            import psycopg
        except ImportError as exc:
            raise DatabaseError(
                "PostgreSQL needs the psycopg driver: pip install 'psycopg[binary]'"
            ) from exc

        options = (
            f"-c lock_timeout={lock_timeout_ms} -c statement_timeout={statement_timeout_ms} "
            "-c default_transaction_read_only=on "
            f"-c idle_in_transaction_session_timeout={max(statement_timeout_ms * 2, 10_000)}"
        )
        try:
            self.conn = psycopg.connect(
                host=url.host,
                port=url.port or 5432,
                user=url.user or None,
                password=url.password or None,
                dbname=url.database or None,
                connect_timeout=5,
                autocommit=True,
                options=options,
                application_name="perfdoctor-advisor",
            )
        except psycopg.Error as exc:
            raise DatabaseError(f"cannot connect to {url.display}: {first_line(exc)}") from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.conn.cursor() as cur:
            # bytes: psycopg types str queries as literals only; these are built at run time.
            cur.execute(sql.encode(), tuple(params) or None)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []

    def read_only(self) -> Any:
        return self._rolled_back("BEGIN READ ONLY")

    def scratch(self) -> Any:
        return self._rolled_back("BEGIN READ WRITE")


class MySQLSession(Session):
    dialect = "mysql"

    def __init__(self, url: DatabaseURL, lock_timeout_ms: int, statement_timeout_ms: int) -> None:
        super().__init__(url, lock_timeout_ms, statement_timeout_ms)
        try:
            import pymysql
        except ImportError as exc:
            raise DatabaseError(
                "MySQL/MariaDB needs the PyMySQL driver: pip install PyMySQL"
            ) from exc
        if not url.database:
            raise DatabaseError(
                f"no database name in {url.display}: give mysql://user@host:3306/DBNAME"
            )

        try:
            self.conn = pymysql.connect(
                host=url.host,
                port=url.port or 3306,
                user=url.user or "root",
                password=url.password,
                database=url.database or None,
                connect_timeout=5,
                read_timeout=max(statement_timeout_ms // 1000 * 2, 10),
                autocommit=True,
            )
        except pymysql.Error as exc:
            raise DatabaseError(f"cannot connect to {url.display}: {first_line(exc)}") from exc
        self.mariadb = "mariadb" in self.conn.get_server_info().lower()
        lock_s = max(1, lock_timeout_ms // 1000)
        with self.conn.cursor() as cur:
            cur.execute(f"SET SESSION lock_wait_timeout = {lock_s}")
            cur.execute(f"SET SESSION innodb_lock_wait_timeout = {lock_s}")
            if self.mariadb:
                cur.execute(f"SET SESSION max_statement_time = {statement_timeout_ms / 1000}")
            else:
                cur.execute(f"SET SESSION max_execution_time = {statement_timeout_ms}")
            cur.execute("SET SESSION TRANSACTION READ ONLY")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.conn.cursor() as cur:
            cur.execute(sql, tuple(params) or None)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []

    @contextmanager
    def scratch(self) -> Iterator[None]:
        # MySQL DDL commits implicitly: nothing is ever created there.
        raise DatabaseError("MySQL/MariaDB cannot try an index without changing the schema")
        yield  # pragma: no cover


def connect(
    url: str, lock_timeout_ms: int, statement_timeout_ms: int, writable: bool = True
) -> Session:
    """A session; ``writable`` False for plans only (SQLite then opens read-only)."""
    parsed = parse_url(url)
    if parsed.dialect == "sqlite":
        return SQLiteSession(parsed, lock_timeout_ms, statement_timeout_ms, writable)
    kind: type[Session] = PostgresSession if parsed.dialect == "postgresql" else MySQLSession
    return kind(parsed, lock_timeout_ms, statement_timeout_ms)
