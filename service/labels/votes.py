"""Votes as telemetry: each vote becomes one record per variant it judged."""

from __future__ import annotations

from datetime import UTC, datetime

from monitoring.records import VoteRecord
from service.schemas import VoteOut
from service.serving import CompareEngine
from service.store import Store, rollups, turns


def vote_records(store: Store, votes: list[VoteOut]) -> list[VoteRecord]:
    """Each vote as one record per variant in it (win, loss, tie, both_bad); a ranking
    gives the first a win, the last a loss and those between a tie. One query."""
    if not votes:
        return []
    panes, modes = turns.panes_and_modes(store, {v.turn_id for v in votes})
    records = []
    # Votes alike (a batch's on one turn: same outcome, same time) give equal records,
    # made once; records are frozen, so they are shared.
    alike: dict[tuple[str, str, tuple[int, ...] | None, datetime], list[VoteRecord]] = {}
    for vote in votes:
        key = (
            vote.turn_id,
            vote.outcome,
            tuple(vote.ranking) if vote.ranking is not None else None,
            vote.created_at,
        )
        if key not in alike:
            by_pane = panes.get(vote.turn_id, {})
            mode = modes.get(vote.turn_id, "named")
            results = rollups.pane_results(vote.outcome, vote.ranking, by_pane)
            at = vote.created_at.replace(tzinfo=vote.created_at.tzinfo or UTC).timestamp()
            alike[key] = [
                VoteRecord(by_pane[p], outcome, mode, at=at)
                for p, outcome in results.items()
                if p in by_pane
            ]
        records += alike[key]
    return records


def record_votes(store: Store, engine: CompareEngine, votes: list[VoteOut]) -> None:
    """New votes to the telemetry streams (one query for the variants of their turns),
    after the records their blind turns held back."""
    engine.blind_hold.release({v.turn_id for v in votes})
    engine.blind_hold.emit_many(None, vote_records(store, votes))
