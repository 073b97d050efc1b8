"""Persistence: SQLAlchemy 2 tables, Alembic migrations, the `Store` (engine and
transactions), and one module of queries per feature. Only this package touches the tables."""

from service.store import (
    audit_log,
    campaigns,
    dashboard,
    deployments,
    eval_batch_jobs,
    eval_runs,
    exports,
    feedback,
    keys,
    label_reviews,
    labels,
    leaderboard,
    raters,
    rollup_rebuild,
    rollups,
    scores,
    sketch,
    spend,
    tunings,
    turns,
    usecases,
    variants,
    votes,
)
from service.store.engine import Store
from service.store.exports import ExportAnswer, ExportTurn, ExportVote
from service.store.filters import Filters
from service.store.jobs import Job, JobQueue
from service.store.keys import KeyInfo
from service.store.leader import Leadership
from service.store.turns import FinishedTurn

__all__ = [
    "ExportAnswer",
    "ExportTurn",
    "ExportVote",
    "Filters",
    "FinishedTurn",
    "Job",
    "JobQueue",
    "KeyInfo",
    "Leadership",
    "Store",
    "audit_log",
    "campaigns",
    "dashboard",
    "deployments",
    "eval_batch_jobs",
    "eval_runs",
    "exports",
    "feedback",
    "keys",
    "label_reviews",
    "labels",
    "leaderboard",
    "raters",
    "rollup_rebuild",
    "rollups",
    "scores",
    "sketch",
    "spend",
    "tunings",
    "turns",
    "usecases",
    "variants",
    "votes",
]
