"""Campaigns and their items as stored, and the labels on the items' turns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from service.errors import Conflict, NotFound
from service.ids import new_id, utcnow
from service.store.engine import Store
from service.store.label_reviews import rejected
from service.store.tables import (
    AnswerRow,
    CampaignItemRow,
    CampaignRow,
    ConversationRow,
    RatingRow,
    TurnRow,
    TurnTagRow,
    VoteRow,
)
from service.store.votes import live_votes


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    description: str
    variants: list[str]
    raters_per_item: int
    raters: list[str] | None
    created_at: datetime


@dataclass(frozen=True)
class Item:
    id: str
    position: int
    prompt: str
    variants: list[str]
    turn_id: str | None
    error: str | None


def _item(row: CampaignItemRow) -> Item:
    return Item(row.id, row.position, row.prompt, list(row.variants), row.turn_id, row.error)


def add_campaign(
    store: Store,
    *,
    name: str,
    description: str,
    variants: list[str],
    raters_per_item: int,
    raters: list[str] | None,
    items: Sequence[tuple[str, list[str], str | None]],
) -> str:
    """The campaign row and its items (prompt, pane variants, the turn if already answered),
    in one transaction."""
    with store.session() as s:
        if s.scalar(select(CampaignRow.id).where(CampaignRow.name == name)):
            raise Conflict(f"a campaign named {name!r} exists", hint="Pick another name.")
        campaign_id, now = new_id(), utcnow()
        s.execute(
            insert(CampaignRow),
            {
                "id": campaign_id,
                "name": name,
                "description": description,
                "variants": variants,
                "raters_per_item": raters_per_item,
                "raters": raters,
                "created_at": now,
            },
        )
        s.execute(
            insert(CampaignItemRow),
            [
                {
                    "id": new_id(),
                    "campaign_id": campaign_id,
                    "position": k,
                    "prompt": prompt,
                    "variants": pane_variants,
                    "turn_id": turn_id,
                    "error": None,
                    "created_at": now,
                }
                for k, (prompt, pane_variants, turn_id) in enumerate(items)
            ],
        )
    return campaign_id


def campaign(store: Store, name: str) -> Campaign:
    with store.session() as s:
        row = s.scalar(select(CampaignRow).where(CampaignRow.name == name))
        if row is None:
            raise NotFound(f"there is no campaign {name!r}", hint="List them: GET /api/campaigns.")
        return Campaign(
            row.id,
            row.name,
            row.description,
            list(row.variants),
            row.raters_per_item,
            None if row.raters is None else list(row.raters),
            row.created_at,
        )


def gateway_turns(
    store: Store, limit: int, deployment: str | None
) -> list[tuple[str, str, list[str]]]:
    """The latest gateway turns with at least two answers (live and shadow): (turn id,
    prompt, variant per pane), newest first. One query: the turns chosen in a subquery,
    their answers joined to it."""
    latest = func.max(TurnRow.created_at).label("last")
    chosen = (
        select(TurnRow.id, TurnRow.prompt, latest)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .join(AnswerRow, AnswerRow.turn_id == TurnRow.id)
        .where(ConversationRow.mode == "gateway")
        .group_by(TurnRow.id, TurnRow.prompt)
        .having(func.count(AnswerRow.id) >= 2)
        .order_by(latest.desc(), TurnRow.id.desc())
        .limit(limit)
    )
    if deployment is not None:
        chosen = chosen.where(
            TurnRow.id.in_(
                select(TurnTagRow.turn_id).where(TurnTagRow.tag == f"deployment:{deployment}")
            )
        )
    turn = chosen.subquery()
    out: dict[str, tuple[str, str, list[str]]] = {}
    with store.session() as s:
        for turn_id, prompt, variant in s.execute(
            select(turn.c.id, turn.c.prompt, AnswerRow.variant_name)
            .join(AnswerRow, AnswerRow.turn_id == turn.c.id)
            .order_by(turn.c.last.desc(), turn.c.id.desc(), AnswerRow.pane)
        ):
            out.setdefault(turn_id, (turn_id, prompt, []))[2].append(variant)
    return list(out.values())


def recent_prompts(store: Store, limit: int) -> list[str]:
    """The latest distinct prompts people asked (first turns of conversations)."""
    with store.session() as s:
        rows = s.execute(
            select(TurnRow.prompt, func.max(TurnRow.created_at).label("last"))
            .where(TurnRow.position == 0, TurnRow.status != "replaced")
            .group_by(TurnRow.prompt)
            .order_by(func.max(TurnRow.created_at).desc())
            .limit(limit)
        ).all()
    return [r.prompt for r in rows]


def items(
    store: Store, campaign_id: str, *, answered: bool | None = None, limit: int | None = None
) -> list[Item]:
    """The campaign's items in order: all, only those with a turn, or only those without."""
    query = select(CampaignItemRow).where(CampaignItemRow.campaign_id == campaign_id)
    if answered is True:
        query = query.where(CampaignItemRow.turn_id.is_not(None))
    elif answered is False:
        query = query.where(CampaignItemRow.turn_id.is_(None))
    with store.session() as s:
        query = query.order_by(CampaignItemRow.position).limit(limit)
        return [_item(r) for r in s.scalars(query)]


def set_item_outcome(store: Store, item_id: str, *, turn_id: str | None, error: str | None) -> None:
    values: dict[str, Any] = {"error": error}
    if turn_id is not None:
        values["turn_id"] = turn_id
    with store.session() as s:
        s.execute(update(CampaignItemRow).where(CampaignItemRow.id == item_id).values(**values))


def raters_of_items(store: Store, campaign_id: str) -> dict[str, set[str]]:
    """Per item id: the raters with a counted vote on its turn."""
    with store.session() as s:
        rows = s.execute(
            select(CampaignItemRow.id, VoteRow.rater)
            .join(VoteRow, VoteRow.turn_id == CampaignItemRow.turn_id)
            .where(CampaignItemRow.campaign_id == campaign_id, live_votes())
        ).all()
    raters: dict[str, set[str]] = {}
    for item_id, rater in rows:
        raters.setdefault(item_id, set()).add(rater)
    return raters


def labels_on(
    store: Store, campaign_id: str
) -> tuple[list[tuple[str, str, str]], list[tuple[Any, ...]]]:
    """Counted votes (turn id, rater, outcome) and ratings not rejected (answer id, rater,
    helpfulness, honesty, harmlessness) on the turns of the campaign's items, oldest first."""
    item_turns = select(CampaignItemRow.turn_id).where(
        CampaignItemRow.campaign_id == campaign_id, CampaignItemRow.turn_id.is_not(None)
    )
    with store.session() as s:
        votes = s.execute(
            select(VoteRow.turn_id, VoteRow.rater, VoteRow.outcome)
            .where(VoteRow.turn_id.in_(item_turns), live_votes())
            .order_by(VoteRow.created_at, VoteRow.id)
        ).all()
        ratings = s.execute(
            select(
                RatingRow.answer_id,
                RatingRow.rater,
                RatingRow.helpfulness,
                RatingRow.honesty,
                RatingRow.harmlessness,
            )
            .where(RatingRow.turn_id.in_(item_turns), RatingRow.id.not_in(rejected("rating")))
            .order_by(RatingRow.created_at, RatingRow.id)
        ).all()
    return [(t, r, o) for t, r, o in votes], [tuple(row) for row in ratings]


def summaries(store: Store) -> list[tuple[str, list[str], int, list[str] | None, int]]:
    """(name, variants, raters per item, allowed raters, item count), newest first."""
    with store.session() as s:
        rows = s.execute(
            select(
                CampaignRow.name,
                CampaignRow.variants,
                CampaignRow.raters_per_item,
                CampaignRow.raters,
                func.count(CampaignItemRow.id),
            )
            .outerjoin(CampaignItemRow, CampaignItemRow.campaign_id == CampaignRow.id)
            .group_by(CampaignRow.id)  # the other columns depend on it
            .order_by(CampaignRow.created_at.desc())
        ).all()
    return [(n, list(v), k, allowed, int(c)) for n, v, k, allowed, c in rows]
