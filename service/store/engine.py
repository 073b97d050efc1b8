"""The store's connection: one SQLAlchemy engine (SQLite with WAL, or PostgreSQL through
psycopg 3) and transactions that turn database failures into Arbiter errors: an outage
(unreachable, shut down, busy) into `StoreUnavailable`, any other refusal into `StoreError`
with its cause. The
queries live beside it, one module per feature (`turns`, `votes`, `labels`, ...), each a set
of functions that take the `Store`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, select, text
from sqlalchemy.exc import (
    DBAPIError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session, sessionmaker

from service.errors import StoreError, StoreUnavailable
from service.store import migrate

# SQLSTATE classes and codes of PostgreSQL that mean "not now" rather than "not this":
# connection exceptions, shutdowns, and too many connections or no disk space.
_PG_OUTAGE_CLASSES = ("08", "53")
_PG_OUTAGE_CODES = ("57P01", "57P02", "57P03")
# SQLite's result codes of the same kind: another writer holds the lock, or the file
# cannot be opened, read or written.
_SQLITE_OUTAGE = {"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL"}


def _normalise_url(url: str) -> str:
    # Use psycopg 3 for plain postgres URLs (SQLAlchemy's default would be psycopg2).
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, schema: str | None = None) -> Engine:
    url = _normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    connect_args: dict[str, Any] = {"connect_timeout": 5}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args
    )


def plan_to_read_every_row(connection: Connection) -> None:
    """For the rest of this transaction on PostgreSQL, plan queries for reading every row
    they give, once: no JIT compiling (its cost, seconds for a million rows, is not paid
    back on rows read once) and, through a server-side cursor, the plan that finishes first
    rather than the one whose first tenth of the rows comes first. Nothing elsewhere."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1")
        connection.exec_driver_sql("SET LOCAL jit = off")


class Store:
    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        self.engine = make_engine(url, schema=schema)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    # -- lifecycle ---------------------------------------------------------------------

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise StoreUnavailable(
                f"cannot reach the database at {self.engine.url.render_as_string(hide_password=True)}: "
                f"{str(exc.orig if hasattr(exc, 'orig') else exc).strip().splitlines()[0]}",
                hint="Start the database or fix ARBITER_DATABASE_URL.",
            ) from None

    def upgrade(self) -> None:
        self.ping()
        migrate.upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except (OperationalError, ProgrammingError, InterfaceError) as exc:
            raise self._classify(exc) from None

    def _classify(self, exc: DBAPIError) -> StoreError:
        """An outage, or a statement the database refused. The driver's error class does
        not tell them apart (psycopg reports "too many parameters" as an OperationalError,
        like a refused connection), so: the codes that mean an outage, else whether the
        database answers a ping right now."""
        cause = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else repr(exc)
        if self._is_outage(exc):
            return StoreUnavailable(
                f"database error: {cause}",
                hint="Check that the database is running and reachable, then try again.",
            )
        return StoreError(
            f"database error (the database is up, but refused the statement): {cause}",
            hint="This is a bug or a broken deployment, not an outage: report this message "
            "to the operator (is the schema up to date? `arbiter db upgrade`).",
        )

    def _is_outage(self, exc: DBAPIError) -> bool:
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        if (
            exc.connection_invalidated
            or sqlstate[:2] in _PG_OUTAGE_CLASSES
            or sqlstate in _PG_OUTAGE_CODES
            or getattr(exc.orig, "sqlite_errorname", None) in _SQLITE_OUTAGE
        ):
            return True
        # Anything else (a refused connection has no code either) is an outage only if the
        # database does not answer now.
        try:
            self.ping()
        except StoreUnavailable:
            return True
        return False

    def count(self, table: type[Any]) -> int:
        """Rows in a table."""
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(table)) or 0)
