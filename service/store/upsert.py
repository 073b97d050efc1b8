"""`INSERT ... ON CONFLICT (keys) DO UPDATE SET c = c + excluded.c`: the statement of the
counts kept as labels and answers arrive (dashboard rollups, leaderboard cells, export
shapes, token spend), built once per table and dialect. A vote batch runs several of them; a statement
used again skips SQLAlchemy's building it and computing its cache key, and a table's Core
insert skips the ORM's bulk-insert bookkeeping, which an executemany of plain rows does not
need. And `INSERT ... ON CONFLICT (key) DO NOTHING`, for rows processes seed together."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def add_statement(s: Session, table: Any, keys: tuple[str, ...], adds: tuple[str, ...]) -> Any:
    """For an executemany of rows of `table` (a mapped class): insert each, or add its
    `adds` columns to the stored row with the same `keys`."""
    return _statement(s.get_bind().dialect.name, table.__table__, keys, adds)


def _insert(dialect: str, table: Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (PostgreSQL's or SQLite's)."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


@cache
def _statement(dialect: str, table: Table, keys: tuple[str, ...], adds: tuple[str, ...]) -> Any:
    stmt = _insert(dialect, table)
    return stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: table.c[c] + stmt.excluded[c] for c in adds},
    )


def insert_new(s: Session, table: Any, rows: list[dict[str, Any]], key: str) -> None:
    """Insert the rows whose `key` is not stored yet; a row another process inserted
    meanwhile is left as it is (processes starting together seed the same rows: checking
    first and inserting after let both insert, and one of them failed to start)."""
    if rows:
        stmt = _insert(s.get_bind().dialect.name, table.__table__)
        s.execute(stmt.on_conflict_do_nothing(index_elements=[key]), rows)
