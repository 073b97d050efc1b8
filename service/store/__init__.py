"""Persistence: SQLAlchemy 2 tables, Alembic migrations, and the `Store` repository."""

from service.store.repository import Store, TurnStart, make_engine

__all__ = ["Store", "TurnStart", "make_engine"]
