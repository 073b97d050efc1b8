"""leaderboard cells: the pair counts kept as votes arrive, counted here from the stored
votes; indexes for the counts that still come from the votes (dates, rater, supersedes)

Revision ID: 0013
Revises: 0012
"""

from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables as they are at this revision (a migration must not change when the code does).
votes = sa.table(
    "votes",
    sa.column("id", sa.String),
    sa.column("turn_id", sa.String),
    sa.column("outcome", sa.String),
    sa.column("ranking", sa.JSON),
    sa.column("supersedes_id", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
turns = sa.table(
    "turns",
    sa.column("id", sa.String),
    sa.column("conversation_id", sa.String),
    sa.column("retrieval", sa.JSON),
)
conversations = sa.table(
    "conversations",
    sa.column("id", sa.String),
    sa.column("mode", sa.String),
    sa.column("use_case", sa.String),
)
answers = sa.table(
    "answers",
    sa.column("turn_id", sa.String),
    sa.column("pane", sa.Integer),
    sa.column("variant_name", sa.String),
)
reviews = sa.table(
    "label_reviews",
    sa.column("id", sa.String),
    sa.column("label_kind", sa.String),
    sa.column("label_id", sa.String),
    sa.column("status", sa.String),
)
cells = sa.table(
    "leaderboard_cells",
    sa.column("day", sa.String),
    sa.column("mode", sa.String),
    sa.column("rag", sa.Boolean),
    sa.column("use_case", sa.String),
    sa.column("variant_x", sa.String),
    sa.column("variant_y", sa.String),
    sa.column("outcome", sa.String),
    sa.column("n", sa.BigInteger),
)
PAIR = {"a": "a", "b": "b", "tie": "tie", "both_bad": "tie"}


def upgrade() -> None:
    op.create_table(
        "leaderboard_cells",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("mode", sa.String(16), primary_key=True),
        sa.Column("rag", sa.Boolean(), primary_key=True),
        sa.Column("use_case", sa.String(64), primary_key=True),
        sa.Column("variant_x", sa.String(64), primary_key=True),
        sa.Column("variant_y", sa.String(64), primary_key=True),
        sa.Column("outcome", sa.String(4), primary_key=True),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_votes_created_at", "votes", ["created_at"])
    op.create_index("ix_votes_rater", "votes", ["rater"])
    op.create_index("ix_votes_supersedes_id", "votes", ["supersedes_id"])
    _count_stored_votes()


def _count_stored_votes() -> None:
    conn = op.get_bind()
    later_vote = votes.alias("later_vote")
    later_review = reviews.alias("later_review")
    rejected = sa.select(reviews.c.label_id).where(
        reviews.c.label_kind == "vote",
        reviews.c.status == "rejected",
        ~sa.exists().where(
            later_review.c.label_kind == reviews.c.label_kind,
            later_review.c.label_id == reviews.c.label_id,
            later_review.c.id > reviews.c.id,
        ),
    )
    if conn.dialect.name == "postgresql":
        day: Any = sa.func.to_char(sa.func.timezone("UTC", votes.c.created_at), "YYYY-MM-DD")
    else:
        day = sa.func.substr(votes.c.created_at, 1, 10, type_=sa.String)
    query = (
        sa.select(
            votes.c.id,
            votes.c.outcome,
            votes.c.ranking,
            day,
            conversations.c.mode,
            turns.c.retrieval.is_not(None),
            sa.func.coalesce(conversations.c.use_case, ""),
            answers.c.pane,
            answers.c.variant_name,
        )
        .select_from(votes)
        .join(turns, turns.c.id == votes.c.turn_id)
        .join(conversations, conversations.c.id == turns.c.conversation_id)
        .join(answers, answers.c.turn_id == votes.c.turn_id)
        .where(
            ~sa.exists().where(later_vote.c.supersedes_id == votes.c.id),
            votes.c.id.not_in(rejected),
        )
        .order_by(votes.c.id)
    )
    counts: Counter[tuple[Any, ...]] = Counter()

    def add(dims: tuple[Any, ...], x: str, y: str, outcome: str) -> None:
        # The pair in name order; each vote in its day's cell and in the all-time one.
        if x > y:
            x, y, outcome = y, x, {"a": "b", "b": "a"}.get(outcome, outcome)
        for day in (dims[0], "all"):
            counts[(day, *dims[1:], x, y, outcome)] += 1

    vote: tuple[Any, ...] | None = None
    panes: dict[int, str] = {}

    def count() -> None:
        if vote is None:
            return
        outcome, ranking, dims = vote
        if outcome == "ranking" and ranking and all(p in panes for p in ranking):
            ordered = [panes[p] for p in ranking]
            for i, x in enumerate(ordered):
                for y in ordered[i + 1 :]:
                    add(dims, x, y, "a")
        elif outcome in PAIR and 0 in panes and 1 in panes:
            add(dims, panes[0], panes[1], PAIR[outcome])

    vote_id = None
    for row in conn.execute(query):
        if row[0] != vote_id:
            count()
            vote_id, panes = row[0], {}
            vote = (row[1], row[2], (row[3], row[4], bool(row[5]), row[6]))
        panes[row[7]] = row[8]
    count()
    names = ("day", "mode", "rag", "use_case", "variant_x", "variant_y", "outcome")
    rows = [{**dict(zip(names, key, strict=True)), "n": n} for key, n in counts.items()]
    if rows:
        conn.execute(sa.insert(cells), rows)


def downgrade() -> None:
    op.drop_index("ix_votes_supersedes_id", "votes")
    op.drop_index("ix_votes_rater", "votes")
    op.drop_index("ix_votes_created_at", "votes")
    op.drop_table("leaderboard_cells")
