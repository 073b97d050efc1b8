"""Many votes in one transaction: what labelling tools and importers send. The same rules
as one vote at a time (a vote replaces the same rater's live vote on the turn; a repeated
idempotency key returns the stored vote), checked with four queries per batch instead of
four per vote. All or nothing: one bad vote refuses the batch, with its index."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from service.errors import ArbiterError, Conflict, NotFound
from service.ids import new_id, utcnow
from service.schemas import BatchVoteIn, VoteOut
from service.store.repository import Store, check_vote, vote_out
from service.store.tables import AnswerRow, TurnRow, VoteRow


def cast_votes(store: Store, votes: list[BatchVoteIn]) -> list[VoteOut]:
    try:
        return _cast_batch(store, votes)
    except IntegrityError:
        # Another request stored one of these idempotency keys meanwhile: one at a time,
        # each vote then finds its stored twin.
        return [store.cast_vote(v.turn_id, v) for v in votes]


def _cast_batch(store: Store, votes: list[BatchVoteIn]) -> list[VoteOut]:
    turn_ids = {v.turn_id for v in votes}
    keys = [v.idempotency_key for v in votes if v.idempotency_key]
    with store.session() as s:
        stored = {
            r.idempotency_key: r
            for r in (
                s.scalars(select(VoteRow).where(VoteRow.idempotency_key.in_(keys))) if keys else ()
            )
        }
        turns = {
            row.id: (row.status, row.panes)
            for row in s.execute(
                select(TurnRow.id, TurnRow.status, func.count(AnswerRow.id).label("panes"))
                .outerjoin(AnswerRow, AnswerRow.turn_id == TurnRow.id)
                .where(TurnRow.id.in_(turn_ids))
                .group_by(TurnRow.id, TurnRow.status)
            )
        }
        live: dict[tuple[str, str], str] = {}
        rows = s.execute(
            select(VoteRow.id, VoteRow.turn_id, VoteRow.rater, VoteRow.supersedes_id)
            .where(VoteRow.turn_id.in_(turn_ids), VoteRow.rater.in_({v.rater for v in votes}))
            .order_by(VoteRow.created_at, VoteRow.id)
        ).all()
        superseded = {r.supersedes_id for r in rows if r.supersedes_id}
        for r in rows:
            if r.id not in superseded:
                live[(r.turn_id, r.rater)] = r.id
        new_rows: list[dict[str, Any]] = []
        out: list[VoteOut | dict[str, Any]] = []
        batch_keys: dict[str, dict[str, Any]] = {}
        now = utcnow()
        for index, vote in enumerate(votes):
            key = vote.idempotency_key
            if key and key in stored:
                out.append(vote_out(stored[key], replayed=True))
                continue
            if key and key in batch_keys:
                out.append({**batch_keys[key], "replayed": True})
                continue
            try:
                if vote.turn_id not in turns:
                    raise NotFound(f"turn {vote.turn_id} does not exist")
                status, panes = turns[vote.turn_id]
                if status == "running":
                    raise Conflict(
                        "the answers of this turn are still streaming",
                        hint="Vote once every pane has finished or failed.",
                        code="turn_not_finished",
                    )
                ranking = check_vote(vote, int(panes))
            except ArbiterError as exc:
                exc.message = f"votes[{index}]: {exc.message}"
                raise
            vote_id = new_id()
            row: dict[str, Any] = {
                "id": vote_id,
                "turn_id": vote.turn_id,
                "outcome": vote.outcome,
                "ranking": ranking,
                "rater": vote.rater,
                "supersedes_id": live.get((vote.turn_id, vote.rater)),
                "idempotency_key": key,
                "created_at": now,
            }
            live[(vote.turn_id, vote.rater)] = vote_id
            new_rows.append(row)
            out.append(row)
            if key:
                batch_keys[key] = row
        if new_rows:
            s.execute(insert(VoteRow), new_rows)
    return [
        o
        if isinstance(o, VoteOut)
        else VoteOut(
            **{
                k: o[k]
                for k in (
                    "id",
                    "turn_id",
                    "outcome",
                    "ranking",
                    "rater",
                    "supersedes_id",
                    "created_at",
                )
            },
            replayed=o.get("replayed", False),
        )
        for o in out
    ]
