"""Leader election among processes sharing one PostgreSQL store: of all the processes
running a loop that must run in only one place at a time (the goal monitor), the one
holding a PostgreSQL advisory lock runs it. The lock is held by a connection kept open for
it alone (in autocommit, so it never sits idle in a transaction); if the process dies or
loses that connection, PostgreSQL frees the lock and another process takes over at its
next try. On SQLite (one machine) every process leads, as before.

The lock's key is the loop's name hashed together with the connection's schema: stores in
different schemas of one database elect their leaders apart."""

from __future__ import annotations

import threading

import structlog
from sqlalchemy import Connection, text

from service.store.engine import Store

log = structlog.get_logger(__name__)

_KEY = "hashtextextended(coalesce(current_schema(), '') || ':' || :name, 0)"
_TRY = text(f"SELECT pg_try_advisory_lock({_KEY})")
_UNLOCK = text(f"SELECT pg_advisory_unlock({_KEY})")


class Leadership:
    def __init__(self, store: Store, name: str) -> None:
        self.name = name
        self._store = store
        self._postgres = store.engine.dialect.name == "postgresql"
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        """True when this process leads: it held the lock already (and its connection is
        alive) or it just took it. False: another process leads, or the store is down."""
        if not self._postgres:
            return True
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute(text("SELECT 1"))
                    return True
                except Exception as exc:  # the connection, and with it the lock, is gone
                    log.warning("leader.lost", loop=self.name, error=str(exc))
                    self._drop()
            try:
                conn = self._store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            except Exception as exc:
                log.warning("leader.unreachable", loop=self.name, error=str(exc))
                return False
            try:
                won = bool(conn.scalar(_TRY, {"name": self.name}))
            except Exception as exc:
                log.warning("leader.unreachable", loop=self.name, error=str(exc))
                conn.invalidate()
                conn.close()
                return False
            if not won:
                conn.close()
                return False
            log.info("leader.elected", loop=self.name)
            self._conn = conn
            return True

    def release(self) -> None:
        """Step down (at shutdown), so another process takes over at once."""
        with self._lock:
            if self._conn is None:
                return
            try:
                self._conn.execute(_UNLOCK, {"name": self.name})
                self._conn.close()
            except Exception:
                self._drop()
            self._conn = None

    def _drop(self) -> None:
        # Session-level advisory locks outlive a pooled connection's checkout: a connection
        # whose state is unknown is discarded, never handed back to the pool.
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except Exception as exc:
                log.debug("leader.close_failed", error=str(exc))
        self._conn = None
