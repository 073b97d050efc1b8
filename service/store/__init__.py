"""Persistence: SQLAlchemy 2 tables, Alembic migrations, the `Store` (engine and
transactions), and one module of queries per feature. Only this package touches the tables."""

from service.store import eval_runs, labels, spend, turns, variants, votes
from service.store.engine import Store, make_engine

__all__ = ["Store", "eval_runs", "labels", "make_engine", "spend", "turns", "variants", "votes"]
